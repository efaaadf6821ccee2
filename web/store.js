// What the web app keeps on the device, in IndexedDB: the session (the service worker reads
// the token from here too, see sw.js) and recordings not sent yet, piece by piece as they are
// recorded, so a reload or a closed tab loses none of them.

const DB_NAME = 'trickle';
const DB_VERSION = 1;
let opened = null;

function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('kv');
      db.createObjectStore('drafts', { keyPath: 'id' });
      db.createObjectStore('pieces', { keyPath: ['draft', 'index'] });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Runs `work(stores)` in one transaction over `names`; resolves with its result once committed. */
async function transaction(names, mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, mode);
    const stores = Object.fromEntries(names.map((name) => [name, tx.objectStore(name)]));
    let result;
    const request = work(stores);
    if (request) request.onsuccess = () => (result = request.result);
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export const kvGet = (key) => transaction(['kv'], 'readonly', (s) => s.kv.get(key));
export const kvSet = (key, value) => transaction(['kv'], 'readwrite', (s) => void s.kv.put(value, key));
export const kvDelete = (key) => transaction(['kv'], 'readwrite', (s) => void s.kv.delete(key));

export const allDrafts = () => transaction(['drafts'], 'readonly', (s) => s.drafts.getAll());
export const putDraft = (draft) => transaction(['drafts'], 'readwrite', (s) => void s.drafts.put(draft));
export const addPiece = (draft, index, blob) => transaction(['pieces'], 'readwrite', (s) => void s.pieces.put({ draft, index, blob }));

/** A draft's pieces, in order. */
export async function draftPieces(draft) {
  const rows = await transaction(['pieces'], 'readonly', (s) => s.pieces.getAll(IDBKeyRange.bound([draft, 0], [draft, Infinity])));
  return rows.map((row) => row.blob);
}

export const deleteDraft = (draft) =>
  transaction(['drafts', 'pieces'], 'readwrite', (s) => {
    s.drafts.delete(draft);
    s.pieces.delete(IDBKeyRange.bound([draft, 0], [draft, Infinity]));
  });
