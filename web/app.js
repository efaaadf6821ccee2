// The Trickle web app: voice messages grouped by person, public clips, my clips, and a
// recorder that uploads while it records. Plain ES modules, no framework (a few views of
// lists and forms do not need one, and every kilobyte counts on a phone's link); the SDK's
// modules as the build made them, named by the page's import map. What the first view needs
// is imported here (and preloaded by the page); the uploader and the recorder come after it.
//
// Every import is relative (the SDK's modules are at ./client/): after a load the link cut, the
// page's bootstrap (index.html) imports this module under /app/retry/N/, and the whole graph,
// the uploader too, then comes from there, one set of modules (one TrickleApiError).
import { TrickleApiError } from './client/errors.js';
import { TrickleClient } from './client/api.js';
import { configurePlayer, formatTime, qualitySetting, setQuality } from './player.js';
import { ClipFeed, Conversations, clipBubble, messageBubble, personRow, reconcile, setPlayed, updatePersonRow } from './views.js';
import { addPiece, allDrafts, deleteDraft, draftPieces, kvDelete, kvSet, putDraft } from './store.js';

// The bootstrap tries again only while this is unset: what fails from here on is no lost module.
document.documentElement.dataset.app = 'started';

const TOKEN_KEY = 'trickle.session';
const REFRESH_MS = 15_000;
const params = new URLSearchParams(location.search);
const PAGE_ITEMS = Number(params.get('page_items')) || 20;

const $ = (id) => document.getElementById(id);
let later = null;
const RETRY_MS = [1000, 2000, 4000, 8000, 8000];

/**
 * The modules for uploading and recording, loaded once the first view is up (or when first
 * needed). A link that drops meanwhile fails the import: it is tried again after a pause, under
 * a new URL (a browser may keep the failure of the old one), and after the last try the next
 * call starts over.
 */
function uploadModules() {
  later ??= (async () => {
    for (let attempt = 0; ; attempt += 1) {
      const again = attempt === 0 ? '' : `?attempt=${attempt}`;
      try {
        const [sdk, recorder] = await Promise.all([import(`./client/index.js${again}`), import(`./recorder.js${again}`)]);
        document.body.dataset.uploader = 'ready';
        return { upload: sdk.upload, ...recorder };
      } catch (error) {
        if (attempt >= RETRY_MS.length) {
          later = null;
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt]));
      }
    }
  })();
  return later;
}
const client = new TrickleClient({ server: location.origin });
/** { id, username } of the signed-in user, or null. */
let me = null;
let conversations = null;
/** The upload a Publish/Send will use (see startUpload). */
let pending = null;
let recording = null;
/** The message a recording made now answers (in a conversation). */
let replyParent = null;
/** The conversation on screen: { username, user } (user is null until known). */
let thread = null;

function describe(error) {
  if (error instanceof TrickleApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

function say(id, text, isError = false) {
  const element = $(id);
  element.textContent = text;
  element.classList.toggle('error', isError);
}

// --- session

async function saveSession(token) {
  localStorage.setItem(TOKEN_KEY, JSON.stringify({ token, ...me }));
  // The service worker adds the token to the player's requests for message audio.
  await kvSet('session', { token }).catch(() => undefined);
  navigator.serviceWorker?.controller?.postMessage({ type: 'session', token });
}

async function forgetSession() {
  localStorage.removeItem(TOKEN_KEY);
  await kvDelete('session').catch(() => undefined);
  navigator.serviceWorker?.controller?.postMessage({ type: 'session', token: null });
}

function showSession() {
  const signedIn = me !== null;
  for (const id of ['who', 'nav-messages', 'nav-mine', 'nav-account', 'dock']) $(id).hidden = !signedIn;
  $('who-name').textContent = me?.username ?? '';
  conversations = signedIn ? new Conversations(client, me, PAGE_ITEMS) : null;
  publicFeed.reset();
  mineFeed.reset();
}

async function signIn(create) {
  const form = $('sign-in-form');
  const username = form.username.value.trim();
  const password = form.password.value;
  say('sign-in-error', '');
  try {
    if (create) {
      const email = form.email.value.trim();
      if (!email) throw new Error('An email address is needed to create an account.');
      const inviteCode = form.inviteCode.value.trim();
      await client.register({ username, email, password, ...(inviteCode ? { inviteCode } : {}) });
    }
    const token = await client.login(username, password);
    const account = await client.account();
    me = { id: account.id, username: account.username };
    await saveSession(token);
    form.password.value = '';
    showSession();
    if (location.hash === '' || location.hash === '#/' || location.hash === '#/sign-in') location.hash = '#/messages';
    else void route();
    void resumeDrafts();
  } catch (error) {
    say('sign-in-error', error instanceof TrickleApiError && error.errorName === 'invalid_grant' ? 'Wrong username or password.' : describe(error), true);
  }
}

async function signOut() {
  await forgetSession();
  client.token = undefined;
  me = null;
  showSession();
  location.hash = '#/sign-in';
  void route();
}

// --- views

const VIEWS = ['sign-in', 'messages-view', 'public-view', 'mine-view', 'account'];

function currentRoute() {
  const [, name = '', person] = location.hash.split('/');
  if (!me) return { view: name === 'public' ? 'public-view' : 'sign-in' };
  if (name === 'public') return { view: 'public-view' };
  if (name === 'mine') return { view: 'mine-view' };
  if (name === 'account') return { view: 'account' };
  return { view: 'messages-view', person: person ? decodeURIComponent(person) : null };
}

async function route() {
  const { view, person } = currentRoute();
  for (const id of VIEWS) $(id).hidden = id !== view;
  for (const link of document.querySelectorAll('nav a')) {
    const here = link.getAttribute('href') === `#/${view.replace('-view', '')}`;
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.body.dataset.view = view;
  document.body.classList.toggle('in-thread', Boolean(person));
  if (view !== 'messages-view' || !person) {
    thread = null;
    setReply(null);
  }
  updatePublishMode();
  try {
    if (view === 'public-view') await (publicFeed.page === 0 ? publicFeed.loadMore() : publicFeed.refresh());
    if (view === 'mine-view') await (mineFeed.page === 0 ? mineFeed.loadMore() : mineFeed.refresh());
    if (view === 'account') await showAccount();
    if (view === 'messages-view') await openMessages(person);
  } catch (error) {
    handleListError(error);
  }
}

function handleListError(error) {
  if (error instanceof TrickleApiError && error.status === 401) void signOut();
  else console.error(error);
}

// --- feeds of clips

function waveformLoader(item) {
  return async () => {
    if (!item.urls.waveform) return null;
    const response = await client.download(item.urls.waveform);
    return response.json();
  };
}

function renderClipList(own) {
  return (list, clips) =>
    reconcile(list, clips, (clip) =>
      clipBubble(clip, {
        own: own || clip.user.id === me?.id,
        loadWaveform: waveformLoader(clip),
        onDelete: async (deleted) => {
          await client.deleteClip(deleted.id);
          publicFeed.remove(deleted.id);
          mineFeed.remove(deleted.id);
          say('file-status', `Deleted “${deleted.title}”.`);
        },
        onRename: async (renamed, title) => {
          const updated = await client.updateClip(renamed.id, { title });
          const made = list.querySelector(`[data-id="${renamed.id}"] .title`);
          if (made) made.textContent = updated.title;
          mineFeed.replace(updated);
          publicFeed.replace(updated);
        },
      }),
    );
}

const publicFeed = new ClipFeed({
  list: $('public-clips'),
  more: $('more-public'),
  end: $('public-end'),
  pageItems: PAGE_ITEMS,
  fetchPage: (page) => client.clips(page),
  render: renderClipList(false),
});
const mineFeed = new ClipFeed({
  list: $('my-clips'),
  more: $('more-mine'),
  end: $('mine-end'),
  pageItems: PAGE_ITEMS,
  fetchPage: (page) => client.clips({ ...page, mine: true }),
  render: renderClipList(true),
});

// --- conversations

async function openMessages(username) {
  if (conversations.messages.size === 0 && !conversations.exhausted) await conversations.loadOlder();
  thread = username ? { username, user: conversations.with(username)?.user ?? null } : null;
  if (thread && !thread.user) {
    thread.user = await client.userByName(username).catch((error) => {
      if (error instanceof TrickleApiError && error.status === 404) return null;
      throw error;
    });
  }
  renderMessages(true);
  updatePublishMode();
  if (thread) $('thread-scroll').focus({ preventScroll: true });
}

function renderMessages(opened = false) {
  if (!conversations) return;
  const people = conversations.people();
  reconcile($('conversations'), people, personRow, updatePersonRow);
  for (const row of $('conversations').children) row.querySelector('a').toggleAttribute('aria-current', row.dataset.id === String(thread?.user?.id));
  $('older-conversations').hidden = conversations.exhausted;
  $('conversations-end').textContent = conversations.exhausted ? (people.length ? 'No older messages.' : 'No messages yet. Start a conversation with a username above.') : '';
  const unread = people.reduce((sum, person) => sum + person.unread, 0);
  $('unread-count').hidden = unread === 0;
  $('unread-count').textContent = String(unread);
  $('unread-count').setAttribute('aria-label', `${unread} unplayed`);

  $('thread').hidden = !thread;
  $('no-thread').hidden = Boolean(thread);
  if (!thread) return;
  const name = thread.user?.username ?? thread.username;
  $('thread-title').textContent = thread.user ? name : `${name} (no such user)`;
  $('block-person').hidden = !thread.user;
  $('block-person').textContent = 'Block';
  $('block-person').setAttribute('aria-label', `Block ${name}`);
  const person = thread.user ? conversations.people().find((p) => p.id === thread.user.id) : null;
  const messages = person?.messages ?? [];
  const scroller = $('thread-scroll');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const byId = conversations.messages;
  reconcile(
    $('thread-list'),
    messages,
    (message) =>
      messageBubble(message, {
        me,
        parent: message.parent_id ? byId.get(message.parent_id) : null,
        loadWaveform: waveformLoader(message),
        onReply: (replied) => setReply(replied),
        onDelete: (deleted) => void deleteMessage(deleted),
      }),
    (made, message) => setPlayed(made, message, me),
  );
  $('older-messages').hidden = conversations.exhausted;
  $('thread-end').textContent = conversations.exhausted ? (messages.length ? 'The start of your conversation.' : 'No messages yet: record the first one below.') : '';
  if (opened || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

async function loadOlderMessages() {
  if (!conversations || conversations.exhausted) return;
  await conversations.loadOlder();
  renderMessages();
}

async function deleteMessage(message) {
  try {
    await client.deleteMessage(message.id);
    conversations.remove(message.id);
    renderMessages();
  } catch (error) {
    say('publish-status', describe(error), true);
  }
}

function messagePlayed(item) {
  if (!item.recipient || item.recipient.id !== me?.id || item.played) return;
  client.markPlayed(item.id).then(
    (updated) => {
      conversations.add([updated]);
      renderMessages();
    },
    (error) => console.error(error),
  );
}

function setReply(message) {
  replyParent = message;
  $('replying').hidden = !message;
  $('replying-text').textContent = message ? `Replying to “${message.title || `the voice message of ${new Date(message.created_at).toLocaleString()}`}”` : '';
  if (message) $('record').focus();
}

async function blockPerson() {
  const user = thread?.user;
  if (!user) return;
  try {
    await client.block(user.id);
    conversations.forget(user.id);
    location.hash = '#/messages';
  } catch (error) {
    say('new-conversation-status', describe(error), true);
  }
}

/** Loads the next page when `sentinel` is in view, again and again while it stays there. */
function loadWhileVisible(sentinel, load, done) {
  let visible = false;
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      while (visible && !done() && !sentinel.closest('[hidden]')) await load();
    } catch (error) {
      handleListError(error);
    } finally {
      running = false;
    }
  };
  new IntersectionObserver((entries) => {
    visible = entries.some((entry) => entry.isIntersecting);
    void run();
  }).observe(sentinel);
}

// --- account: quality, password, blocks, deletion

async function showAccount() {
  for (const input of $('quality-form').quality) input.checked = input.value === qualitySetting();
  renderBlocked(await client.blocks({ items: 150 }));
}

function renderBlocked(blocks) {
  reconcile(
    $('blocked'),
    blocks.map((block) => ({ ...block, id: block.user.id })),
    (block) => {
      const item = document.createElement('li');
      item.dataset.id = String(block.user.id);
      const name = document.createElement('span');
      name.textContent = `${block.user.username} `;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Unblock ${block.user.username}`;
      button.addEventListener('click', () => {
        button.disabled = true;
        void unblock(block.user);
      });
      item.append(name, button);
      return item;
    },
  );
}

async function unblock(user) {
  try {
    await client.unblock(user.id);
  } catch (error) {
    if (!(error instanceof TrickleApiError && error.status === 404)) console.error(error);
  }
  // What they sent is back: read the conversations again.
  conversations = new Conversations(client, me, PAGE_ITEMS);
  await showAccount();
}

async function changePassword(event) {
  event.preventDefault();
  const form = $('password-form');
  try {
    await client.changePassword(form.current.value, form.next.value);
    form.reset();
    say('password-status', 'Password changed; your other sessions are signed out.');
  } catch (error) {
    say('password-status', error instanceof TrickleApiError && error.errorName === 'wrong_password' ? 'The current password is wrong.' : describe(error), true);
  }
}

function showDeleteForm(shown) {
  $('delete-form').hidden = !shown;
  $('delete-account').hidden = shown;
  $('delete-form').password.value = '';
  if (shown) $('delete-password').focus();
}

async function deleteAccount(event) {
  event.preventDefault();
  const username = me.username;
  try {
    await client.deleteAccount($('delete-form').password.value);
  } catch (error) {
    return say('delete-status', error instanceof TrickleApiError && error.errorName === 'wrong_password' ? 'The password is wrong; nothing was deleted.' : describe(error), true);
  }
  showDeleteForm(false);
  say('delete-status', '');
  await signOut();
  say('sign-in-error', `The account ${username} was deleted, with everything in it.`);
}

// --- uploads

/** What an upload waits for, in words (the SDK waits as long as the upload is wanted); null while it sends. */
function waiting(progress) {
  if (progress.state === 'sending') return null;
  const seconds = Math.max(0, Math.ceil((progress.nextTryAt - Date.now()) / 1000));
  return progress.state === 'waiting for network'
    ? `Offline: the upload is paused and resumes when the connection is back (next try in ${seconds} s).`
    : `The server does not answer; trying again in ${seconds} s.`;
}

/** Says what the upload waits for while it waits; `sending` says the rest. */
function reportProgress(statusId, sending) {
  return (progress) => {
    const text = waiting(progress);
    showOffline(progress.state === 'waiting for network' || !navigator.onLine);
    if (text) say(statusId, text, true);
    else sending(progress);
  };
}

function showOffline(offline) {
  $('offline-banner').hidden = !offline;
}

/**
 * Starts an upload that a Publish/Send may use: { result: Promise<UploadResult>, uuid,
 * attachmentId, forget(), discarded }. If it fails it is deleted on the server, as it is when
 * discarded (discardPending): left there, it would count against the account's open
 * attachments, and hold the bytes it declared, until it expired a day later.
 */
function startUpload(source, options, { uuid, attachmentId = null, forget = () => undefined, draftId = null }) {
  const stopper = new AbortController();
  const job = { uuid, attachmentId, forget, stopper, draftId, discarded: false };
  job.result = uploadModules().then(({ upload }) =>
    upload(source, {
      ...options,
      attachmentId: attachmentId ?? undefined,
      signal: stopper.signal,
      onAttachment: (attachment) => {
        job.attachmentId = attachment.id;
        return options.onAttachment?.(attachment);
      },
    }),
  );
  job.result.catch(() => {
    if (!job.discarded) void deleteUpload(job);
  });
  return job;
}

/** Stops an upload and deletes what reached the server (a used one answers 409 and stays), and its draft here. */
async function deleteUpload(job) {
  job.stopper.abort();
  job.forget();
  if (job.draftId) await deleteDraft(job.draftId).catch(() => undefined);
  if (job.attachmentId !== null) await client.deleteAttachment(job.attachmentId).catch(() => undefined);
}

// --- recording

/** Where a recording made now goes: the conversation on screen, or (null) a clip or message named after Stop. */
function recordingTarget() {
  return thread?.user ? { to: thread.user.username, parentId: replyParent?.id ?? null } : null;
}

function updatePublishMode() {
  const target = recordingTarget();
  $('record').textContent = 'Record';
  $('record').setAttribute('aria-label', target ? `Record a message to ${target.to}` : 'Record a clip or message');
}

async function record() {
  if (recording) return;
  delete $('dock').dataset.attachmentId;
  delete $('dock').dataset.stoppedAt;
  let modules;
  try {
    modules = await uploadModules();
  } catch (error) {
    return say('recording-status', `The recorder could not be loaded (${describe(error)}); try again when the connection is back.`, true);
  }
  const { recordingSupported, startRecording } = modules;
  if (recording) return;
  if (!recordingSupported()) return say('recording-status', 'This browser cannot record audio.', true);
  discardPending();
  const target = recordingTarget();
  const draft = { id: crypto.randomUUID(), createdAt: new Date().toISOString(), attachmentId: null, seconds: 0, to: target?.to ?? null, parentId: target?.parentId ?? null, mimeType: null, filename: null };
  const ends = [];
  let bytes = 0;
  let session;
  try {
    session = await startRecording(params.get('format') ?? undefined, async (piece, index) => {
      bytes += piece.size;
      ends.push(bytes);
      draft.seconds = index + 1;
      await addPiece(draft.id, index, piece);
      await putDraft(draft);
    });
  } catch (error) {
    return say('recording-status', `No microphone: ${describe(error)}`, true);
  }
  Object.assign(draft, { mimeType: session.mimeType, filename: session.filename });
  await putDraft(draft).catch((error) => console.error(error));
  recording = { session, draft, target, ends, acked: 0 };
  const dock = $('dock');
  dock.dataset.state = 'recording';
  $('record').hidden = true;
  $('stop').hidden = false;
  $('cancel-recording').hidden = false;
  $('stop').focus();
  say('recording-status', target ? `Recording a message to ${target.to}; it goes to the server as it is recorded.` : 'Recording; it goes to the server as it is recorded.');
  say('publish-status', '');
  const showState = () => {
    const seconds = session.elapsedSeconds();
    $('elapsed').textContent = formatTime(seconds);
    $('elapsed').dataset.seconds = seconds.toFixed(1);
    const onServer = ends.filter((end) => end <= recording?.acked).length;
    $('upload-state').textContent = `On the server: ${onServer} s of ${Math.floor(seconds)} s`;
  };
  const ticker = setInterval(showState, 200);
  const meter = () => {
    $('level').value = session.level();
    if (recording?.session === session) requestAnimationFrame(meter);
  };
  requestAnimationFrame(meter);
  const job = startUpload(
    session.stream,
    {
      client,
      filename: session.filename,
      onAttachment: (attachment) => {
        dock.dataset.attachmentId = String(attachment.id);
        draft.attachmentId = attachment.id;
        return putDraft(draft).catch((error) => console.error(error));
      },
      onProgress: reportProgress('recording-status', (progress) => {
        if (recording?.session === session) recording.acked = progress.acknowledgedBytes;
        $('upload-state').dataset.bytes = String(progress.acknowledgedBytes);
        if ($('recording-status').classList.contains('error')) say('recording-status', recording ? 'Back online; recording and uploading.' : 'Back online; finishing the upload.');
      }),
    },
    { uuid: draft.id, draftId: draft.id },
  );
  recording.job = job;
  pending = job;
  job.result.then(
    (done) => {
      dock.dataset.completeAt = String(Date.now());
      say('recording-status', `All ${formatTime(session.elapsedSeconds())} (${done.size} bytes) are on the server.`);
      $('upload-state').textContent = `On the server: all ${Math.round(session.elapsedSeconds())} s`;
    },
    (error) => job.discarded || say('recording-status', `The upload failed: ${describe(error)}`, true),
  );
  session.stopped = () => clearInterval(ticker);
}

async function endRecording() {
  const current = recording;
  recording = null;
  $('stop').hidden = true;
  $('cancel-recording').hidden = true;
  $('record').hidden = false;
  $('level').value = 0;
  $('dock').dataset.state = 'idle';
  await current.session.stop();
  current.session.stopped();
  $('elapsed').textContent = formatTime(current.session.elapsedSeconds());
  $('elapsed').dataset.seconds = current.session.elapsedSeconds().toFixed(1);
  return current;
}

async function stop() {
  if (!recording) return;
  $('dock').dataset.stoppedAt = String(Date.now());
  const { target, job, draft } = await endRecording();
  $('record').focus();
  await putDraft({ ...draft, stopped: true }).catch(() => undefined);
  if (target) {
    say('recording-status', `Sending to ${target.to}…`);
    await send(job, { title: '', to: target.to, parentId: target.parentId });
  } else {
    say('recording-status', 'Stopped; the last second is on its way.');
    openPublishForm('', '');
  }
}

async function cancelRecording() {
  if (!recording) return;
  const { job } = await endRecording();
  job.discarded = true;
  closePending();
  await deleteUpload(job);
  $('elapsed').textContent = formatTime(0);
  $('upload-state').textContent = '';
  say('recording-status', 'Recording cancelled; nothing was kept.');
  $('record').focus();
}

// --- recordings not sent before a reload or a closed tab

/** Each draft left in IndexedDB: its pieces as one file, its upload continued, Send and Discard offered. */
async function resumeDrafts() {
  const drafts = await allDrafts().catch(() => []);
  for (const draft of drafts) {
    if ($('drafts').querySelector(`[data-id="${draft.id}"]`) || recording?.draft.id === draft.id) continue;
    const pieces = await draftPieces(draft.id);
    if (pieces.length === 0) {
      await deleteDraft(draft.id);
      continue;
    }
    const file = new Blob(pieces, { type: draft.mimeType ?? 'audio/webm' });
    // A recording cut off by the reload never fixed its size: this is the size now.
    if (draft.attachmentId !== null) await client.setAttachmentSize(draft.attachmentId, file.size).catch(() => undefined);
    const row = document.createElement('li');
    row.dataset.id = draft.id;
    const text = document.createElement('span');
    text.textContent = `Unsent recording, ${formatTime(draft.seconds)}${draft.to ? ` to ${draft.to}` : ''} `;
    const state = document.createElement('span');
    state.className = 'draft-state';
    const sendButton = document.createElement('button');
    sendButton.type = 'button';
    sendButton.textContent = 'Send';
    sendButton.setAttribute('aria-label', `Send the unsent recording of ${formatTime(draft.seconds)}`);
    const discardButton = document.createElement('button');
    discardButton.type = 'button';
    discardButton.textContent = 'Discard';
    discardButton.setAttribute('aria-label', `Discard the unsent recording of ${formatTime(draft.seconds)}`);
    row.append(text, state, sendButton, discardButton);
    $('drafts').append(row);
    const job = startUpload(
      file,
      {
        client,
        filename: draft.filename ?? 'recording.webm',
        onAttachment: (attachment) => putDraft({ ...draft, attachmentId: attachment.id }).catch(() => undefined),
        onProgress: reportProgress('recording-status', (progress) => {
          state.textContent = `On the server: ${Math.round((100 * progress.acknowledgedBytes) / file.size)}% `;
        }),
      },
      { uuid: draft.id, attachmentId: draft.attachmentId, draftId: draft.id, forget: () => row.remove() },
    );
    job.result.then(() => (state.textContent = 'On the server: all of it '), () => undefined);
    sendButton.addEventListener('click', () => {
      pending = job;
      openPublishForm('', draft.to ?? '', draft.parentId);
    });
    discardButton.addEventListener('click', () => {
      job.discarded = true;
      void deleteUpload(job);
    });
  }
}

// --- an existing file, resumable after a reload

function fileKey(file) {
  return `trickle.upload.${JSON.stringify([file.name, file.size, file.lastModified])}`;
}

function uploadFile() {
  const file = $('file').files?.[0];
  if (!file) return say('file-status', 'Choose an audio file first.', true);
  discardPending();
  const key = fileKey(file);
  const saved = JSON.parse(localStorage.getItem(key) ?? 'null');
  const uuid = saved?.uuid ?? crypto.randomUUID();
  $('file-progress').value = 0;
  say('file-status', saved ? 'Resuming the upload…' : 'Uploading…');
  const job = startUpload(
    file,
    {
      client,
      onAttachment: (attachment) => localStorage.setItem(key, JSON.stringify({ attachmentId: attachment.id, uuid })),
      onProgress: reportProgress('file-status', (progress) => {
        $('file-progress').value = progress.totalBytes ? progress.acknowledgedBytes / progress.totalBytes : 0;
        say('file-status', `${progress.acknowledgedBytes} of ${progress.totalBytes} bytes on the server`);
      }),
    },
    { uuid, attachmentId: saved?.attachmentId ?? null, forget: () => localStorage.removeItem(key) },
  );
  pending = job;
  job.result.then(
    (done) => {
      $('file-progress').value = 1;
      say('file-status', `Uploaded: ${done.size} bytes${done.resumed ? ' (resumed)' : ''}.`);
    },
    (error) => job.discarded || say('file-status', `The upload failed: ${describe(error)}`, true),
  );
  openPublishForm(file.name.replace(/\.[^.]+$/, ''), '');
}

// --- publish or send

function openPublishForm(title, to, parentId = null) {
  const form = $('publish-form');
  form.hidden = false;
  form.dataset.parentId = parentId ?? '';
  form.title.value = title;
  form.to.value = to;
  updatePublishLabel();
  say('publish-status', '');
  form.title.focus();
}

function updatePublishLabel() {
  $('publish').textContent = $('to').value.trim() === '' ? 'Publish' : 'Send';
}

function closePending() {
  pending = null;
  $('publish-form').hidden = true;
}

/** The pending upload is not wanted (Discard, or a new recording or file): it goes from the server too. */
function discardPending() {
  const job = pending;
  closePending();
  if (!job) return;
  job.discarded = true;
  void deleteUpload(job);
}

/** Makes the clip or message of a finished upload; true when it was made. */
async function send(job, { title, to, parentId }) {
  try {
    say('publish-status', 'Finishing the upload…');
    const done = await job.result;
    const audio = { chunked_attachment_id: done.attachmentId, fingerprint: done.fingerprint };
    if (to) {
      const recipient = await client.userByName(to).catch((error) => {
        throw error instanceof TrickleApiError && error.status === 404 ? new Error(`There is no user named ${to}.`) : error;
      });
      const { message } = await client.sendMessage({ recipientId: recipient.id, audio, title: title || undefined, uuid: job.uuid, parentId: parentId ?? undefined });
      say('publish-status', `Sent “${message.title || 'voice message'}” to ${recipient.username}.`);
      conversations?.add([message]);
      if (parentId) setReply(null);
    } else {
      const { clip } = await client.createClip({ title, audio, uuid: job.uuid });
      say('publish-status', `Published “${clip.title}”.`);
    }
    job.forget();
    if (job.draftId) await deleteDraft(job.draftId).catch(() => undefined);
    if (pending === job) closePending();
    say('recording-status', '');
    await refresh();
    return true;
  } catch (error) {
    say('publish-status', describe(error), true);
    return false;
  }
}

async function publish(event) {
  event.preventDefault();
  if (!pending) return;
  const form = $('publish-form');
  const title = form.title.value.trim();
  const to = form.to.value.trim();
  if (!to && !title) return say('publish-status', 'A public clip needs a title.', true);
  $('publish').disabled = true;
  try {
    await send(pending, { title, to, parentId: Number(form.dataset.parentId) || null });
  } finally {
    $('publish').disabled = false;
  }
}

// --- keeping up to date

async function refresh() {
  const { view } = currentRoute();
  try {
    if (view === 'public-view') await publicFeed.refresh();
    if (view === 'mine-view') await mineFeed.refresh();
    if (view === 'account') await showAccount();
    if (me && conversations) {
      await conversations.refresh();
      if (view === 'messages-view') renderMessages();
      else {
        const unread = conversations.people().reduce((sum, person) => sum + person.unread, 0);
        $('unread-count').hidden = unread === 0;
        $('unread-count').textContent = String(unread);
      }
    }
  } catch (error) {
    handleListError(error);
  }
}

// --- start

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(false);
});
$('create-account').addEventListener('click', () => void signIn(true));
$('sign-out').addEventListener('click', () => void signOut());
$('record').addEventListener('click', () => void record());
$('stop').addEventListener('click', () => void stop());
$('cancel-recording').addEventListener('click', () => void cancelRecording());
$('cancel-reply').addEventListener('click', () => setReply(null));
$('upload-file').addEventListener('click', uploadFile);
$('publish-form').addEventListener('submit', (event) => void publish(event));
$('to').addEventListener('input', updatePublishLabel);
$('discard').addEventListener('click', discardPending);
$('older-conversations').addEventListener('click', () => void loadOlderMessages().catch(handleListError));
$('older-messages').addEventListener('click', () => void loadOlderMessages().catch(handleListError));
$('block-person').addEventListener('click', () => void blockPerson());
$('new-conversation').addEventListener('submit', (event) => {
  event.preventDefault();
  const to = $('new-to').value.trim();
  $('new-to').value = '';
  say('new-conversation-status', '');
  location.hash = `#/messages/${encodeURIComponent(to)}`;
});
$('quality-form').addEventListener('change', (event) => setQuality(event.target.value));
$('password-form').addEventListener('submit', (event) => void changePassword(event));
$('delete-account').addEventListener('click', () => showDeleteForm(true));
$('delete-cancel').addEventListener('click', () => showDeleteForm(false));
$('delete-form').addEventListener('submit', (event) => void deleteAccount(event));
window.addEventListener('hashchange', () => void route());
window.addEventListener('online', () => {
  showOffline(false);
  say('recording-status', recording ? 'Back online; recording and uploading.' : '');
});
window.addEventListener('offline', () => showOffline(true));
loadWhileVisible($('more-public').parentElement, () => publicFeed.loadMore(), () => publicFeed.done);
loadWhileVisible($('more-mine').parentElement, () => mineFeed.loadMore(), () => mineFeed.done);
loadWhileVisible($('older-messages').parentElement, loadOlderMessages, () => !conversations || conversations.exhausted);
loadWhileVisible($('older-conversations').parentElement, loadOlderMessages, () => !conversations || conversations.exhausted);

configurePlayer({
  fetchWithToken: async (url) => URL.createObjectURL(await (await client.download(url)).blob()),
  onStarted: messagePlayed,
});

const saved = JSON.parse(localStorage.getItem(TOKEN_KEY) ?? 'null');
if (saved?.token && saved.id) {
  client.token = saved.token;
  me = { id: saved.id, username: saved.username };
}
showSession();
showOffline(!navigator.onLine);
void route().finally(() => setTimeout(() => void uploadModules().catch((error) => console.error(error)), 0));
navigator.serviceWorker?.register('/app/sw.js', { scope: '/' }).catch((error) => console.error(error));
if (me) void resumeDrafts();
setInterval(() => {
  if (!recording && !document.hidden) void refresh();
}, REFRESH_MS);
