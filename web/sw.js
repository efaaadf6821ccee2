// The web app's service worker: a message's audio needs the signed-in user's token, which an
// <audio> element cannot send. Here the browser's own requests for a message's files get it,
// so messages stream and seek like public clips (Range requests, playing before the whole
// file has arrived) instead of being fetched whole first. Nothing is cached.

const MESSAGE_FILE = /^\/account\/messages\/\d+\/(audio|audio\.mp3|low\.opus|low\.m4a|waveform\.json)$/;
/** The page tells us the token; after a restart of this worker it is read from IndexedDB (web/store.js). */
let token;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('message', (event) => {
  if (event.data?.type === 'session') token = event.data.token ?? null;
});

function storedToken() {
  return new Promise((resolve) => {
    const open = indexedDB.open('trickle');
    open.onerror = () => resolve(null);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('kv')) return resolve(null);
      const get = db.transaction('kv').objectStore('kv').get('session');
      get.onsuccess = () => resolve(get.result?.token ?? null);
      get.onerror = () => resolve(null);
    };
  });
}

async function withToken(request) {
  token ??= await storedToken();
  const headers = new Headers(request.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(request.url, { headers, mode: 'same-origin', credentials: 'omit', cache: 'no-store', signal: request.signal });
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !MESSAGE_FILE.test(url.pathname) || event.request.headers.has('authorization')) return;
  event.respondWith(withToken(event.request));
});
