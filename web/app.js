// The Trickle web app: sign in, record while uploading, publish or send, listen.
// Plain ES modules; the SDK's modules as the build made them, named by the page's import map.
import { TrickleApiError, TrickleClient, upload } from 'trickle-audio-client';
import { recordingSupported, startRecording } from './recorder.js';
import { renderBlocked, renderClips, renderInbox } from './lists.js';

const TOKEN_KEY = 'trickle.session';

const $ = (id) => document.getElementById(id);
const client = new TrickleClient({ server: location.origin });
/** The upload a Publish/Send will use (see startUpload). */
let pending = null;
let recording = null;

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

function showSession(username) {
  $('sign-in').hidden = username !== null;
  $('who').hidden = username === null;
  $('studio').hidden = username === null;
  $('mine').hidden = username === null;
  $('inbox-section').hidden = username === null;
  $('account').hidden = username === null;
  $('who-name').textContent = username ?? '';
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
    localStorage.setItem(TOKEN_KEY, JSON.stringify({ token, username }));
    form.password.value = '';
    showSession(username);
    await refresh();
  } catch (error) {
    say('sign-in-error', error instanceof TrickleApiError && error.errorName === 'invalid_grant' ? 'Wrong username or password.' : describe(error), true);
  }
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  client.token = undefined;
  showSession(null);
  void refresh();
}

// --- account: password, blocks, deletion

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

async function block(sender) {
  try {
    await client.block(sender.id);
    await refresh();
  } catch (error) {
    console.error(error);
  }
}

async function unblock(user) {
  try {
    await client.unblock(user.id);
  } catch (error) {
    if (!(error instanceof TrickleApiError && error.status === 404)) console.error(error);
  }
  await refresh();
}

function showDeleteForm(shown) {
  $('delete-form').hidden = !shown;
  $('delete-account').hidden = shown;
  $('delete-form').password.value = '';
  if (shown) $('delete-password').focus();
}

async function deleteAccount(event) {
  event.preventDefault();
  const username = $('who-name').textContent;
  try {
    await client.deleteAccount($('delete-form').password.value);
  } catch (error) {
    return say('delete-status', error instanceof TrickleApiError && error.errorName === 'wrong_password' ? 'The password is wrong; nothing was deleted.' : describe(error), true);
  }
  showDeleteForm(false);
  say('delete-status', '');
  signOut();
  say('sign-in-error', `The account ${username} was deleted, with everything in it.`);
}

// --- recording

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
    if (text) say(statusId, text, true);
    else sending(progress);
  };
}

/**
 * Starts an upload that a Publish/Send may use: { result: Promise<UploadResult>, uuid,
 * attachmentId, forget(), discarded }. If it fails it is deleted on the server, as it is when
 * discarded (discardPending): left there, it would count against the account's open
 * attachments, and hold the bytes it declared, until it expired a day later.
 */
function startUpload(source, options, { uuid, attachmentId = null, forget = () => undefined }) {
  const stopper = new AbortController();
  const job = { uuid, attachmentId, forget, stopper, discarded: false };
  job.result = upload(source, {
    ...options,
    attachmentId: attachmentId ?? undefined,
    signal: stopper.signal,
    onAttachment: (attachment) => {
      job.attachmentId = attachment.id;
      return options.onAttachment?.(attachment);
    },
  });
  job.result.catch(() => {
    if (!job.discarded) void deleteUpload(job);
  });
  return job;
}

/** Stops an upload and deletes what reached the server (a used one answers 409 and stays). */
async function deleteUpload(job) {
  job.stopper.abort();
  job.forget();
  if (job.attachmentId !== null) await client.deleteAttachment(job.attachmentId).catch(() => undefined);
}

async function record() {
  if (recording) return;
  if (!recordingSupported()) return say('recording-status', 'This browser cannot record audio.', true);
  discardPending();
  let session;
  try {
    session = await startRecording(new URLSearchParams(location.search).get('format') ?? undefined);
  } catch (error) {
    return say('recording-status', `No microphone: ${describe(error)}`, true);
  }
  recording = session;
  $('record').disabled = true;
  $('stop').disabled = false;
  $('server-bytes').value = '0';
  say('recording-status', 'Recording; each second goes to the server as it is recorded.');
  const ticker = setInterval(() => ($('recorded-seconds').value = session.elapsedSeconds().toFixed(1)), 100);
  const job = startUpload(
    session.stream,
    {
      client,
      filename: session.filename,
      onAttachment: (attachment) => void ($('meters').dataset.attachmentId = String(attachment.id)),
      onProgress: reportProgress('recording-status', (progress) => {
        $('server-bytes').value = String(progress.acknowledgedBytes);
        if ($('recording-status').classList.contains('error')) say('recording-status', recording ? 'Back online; recording and uploading.' : 'Back online; finishing the upload.');
      }),
    },
    { uuid: crypto.randomUUID() },
  );
  pending = job;
  job.result.then(
    (done) => say('recording-status', `All ${done.size} bytes are on the server.`),
    (error) => job.discarded || say('recording-status', `The upload failed: ${describe(error)}`, true),
  );
  session.stopped = () => clearInterval(ticker);
}

async function stop() {
  const session = recording;
  if (!session) return;
  recording = null;
  $('stop').disabled = true;
  $('record').disabled = false;
  $('meters').dataset.stoppedAt = String(Date.now());
  await session.stop();
  session.stopped();
  $('recorded-seconds').value = session.elapsedSeconds().toFixed(1);
  say('recording-status', 'Stopped; the last second is on its way.');
  openPublishForm('');
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
    (done) => say('file-status', `Uploaded: ${done.size} bytes${done.resumed ? ' (resumed)' : ''}.`),
    (error) => job.discarded || say('file-status', `The upload failed: ${describe(error)}`, true),
  );
  openPublishForm(file.name.replace(/\.[^.]+$/, ''));
}

// --- publish or send

function openPublishForm(title) {
  const form = $('publish-form');
  form.hidden = false;
  form.title.value = title;
  form.to.value = '';
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

async function publish(event) {
  event.preventDefault();
  if (!pending) return;
  const job = pending;
  const form = $('publish-form');
  const title = form.title.value.trim();
  const to = form.to.value.trim();
  if (!to && !title) return say('publish-status', 'A public clip needs a title.', true);
  $('publish').disabled = true;
  try {
    say('publish-status', 'Finishing the upload…');
    const done = await job.result;
    const audio = { chunked_attachment_id: done.attachmentId, fingerprint: done.fingerprint };
    if (to) {
      const recipient = await client.userByName(to).catch((error) => {
        throw error instanceof TrickleApiError && error.status === 404 ? new Error(`There is no user named ${to}.`) : error;
      });
      const { message } = await client.sendMessage({ recipientId: recipient.id, audio, title: title || undefined, uuid: job.uuid });
      say('publish-status', `Sent “${message.title ?? 'untitled'}” to ${recipient.username}.`);
    } else {
      const { clip } = await client.createClip({ title, audio, uuid: job.uuid });
      say('publish-status', `Published “${clip.title}”.`);
    }
    job.forget();
    if (pending === job) closePending();
    await refresh();
  } catch (error) {
    say('publish-status', describe(error), true);
  } finally {
    $('publish').disabled = false;
  }
}

// --- lists

async function refresh() {
  const signedIn = client.token !== undefined;
  try {
    const [publicClips, mine, inbox, blocked] = await Promise.all([
      client.clips({ items: 20 }),
      signedIn ? client.clips({ mine: true, items: 20 }) : [],
      signedIn ? client.inbox({ items: 20 }) : [],
      signedIn ? client.blocks({ items: 50 }) : [],
    ]);
    renderClips($('public-clips'), publicClips);
    renderClips($('my-clips'), mine);
    renderInbox($('inbox'), inbox, client, (sender) => void block(sender));
    renderBlocked($('blocked'), blocked, (user) => void unblock(user));
  } catch (error) {
    if (error instanceof TrickleApiError && error.status === 401) signOut();
    else console.error(error);
  }
}

// --- start

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(false);
});
$('create-account').addEventListener('click', () => void signIn(true));
$('sign-out').addEventListener('click', signOut);
$('record').addEventListener('click', () => void record());
$('stop').addEventListener('click', () => void stop());
$('upload-file').addEventListener('click', uploadFile);
$('publish-form').addEventListener('submit', (event) => void publish(event));
$('to').addEventListener('input', updatePublishLabel);
$('discard').addEventListener('click', discardPending);
$('refresh').addEventListener('click', () => void refresh());
$('password-form').addEventListener('submit', (event) => void changePassword(event));
$('delete-account').addEventListener('click', () => showDeleteForm(true));
$('delete-cancel').addEventListener('click', () => showDeleteForm(false));
$('delete-form').addEventListener('submit', (event) => void deleteAccount(event));
window.addEventListener('online', () => say('recording-status', recording ? 'Back online; recording and uploading.' : ''));

const saved = JSON.parse(localStorage.getItem(TOKEN_KEY) ?? 'null');
if (saved?.token) {
  client.token = saved.token;
  showSession(saved.username);
} else showSession(null);
void refresh();
setInterval(() => void refresh(), 15_000);
