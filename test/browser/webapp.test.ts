/**
 * The web app in a real browser: Debian's Chromium driven by playwright-core, with a fake
 * microphone that plays a spoken WAV (espeak-ng). Every feature a user meets has a test:
 * recording while uploading (elapsed time, level meter, the upload's state, cancel), publishing
 * and sending, conversations grouped by person with the newest at the bottom, unread and
 * played marks, replies in place, bubbles (waveform, duration, date, play/pause, scrubbing,
 * speed), feeds paged to the oldest item without layout shift, editing and deleting, a file
 * upload's progress, recordings kept through a reload or a closed tab, the offline banner,
 * and accessibility (axe-core where installed, names and keyboard use always). With
 * WEBAPP_SCREENSHOTS=1 it also writes the main views' screenshots into docs/screenshots/.
 * Skipped when Chromium is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { buildForBrowser, chromiumMissing, DESKTOP, launchChromium, openApp, PHONE, ROOT, serviceWorkerReady, signIn as signInAs, speechWav } from '../helpers/browser.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { waitProcessed } from '../helpers/processing.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface Recording {
  attachmentId: number;
  /** Bytes the server held when Stop was clicked (asked over the API just before). */
  bytesAtStop: number;
  /** The server's view while recording, before Stop: each poll's received bytes. */
  receivedWhileRecording: number[];
  /** What the recorder showed while recording: upload states and meter levels. */
  uploadStates: string[];
  levels: number[];
  /** Seconds the page says it recorded. */
  recordedSeconds: number;
  stopClickedAt: number;
}

/** What the tests use of the page's one <audio> element (the project compiles without the DOM's types). */
interface AudioElement {
  muted: boolean;
  paused: boolean;
  currentTime: number;
  playbackRate: number;
}

function axeSource(): string | null {
  try {
    return readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  } catch {
    return null;
  }
}

describe('the web app in Chromium', { skip: chromiumMissing }, () => {
  let server: TestServer;
  let browser: Browser;
  let dir: string;
  const alice = { username: `alice_${process.pid}`, token: '', id: 0 };
  const measured: Record<string, unknown> = {};

  before(async () => {
    buildForBrowser();
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-browser-'));
    server = await startServer(databaseKinds()[0]!);
    const wav = speechWav(dir);
    if (!wav) console.log('# espeak-ng or sox missing: the fake microphone plays its default beeps');
    browser = await launchChromium(wav);
  });
  after(async () => {
    console.log(`# measured: ${JSON.stringify(measured)}`);
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newPage = (query = '', options: { context?: BrowserContext; viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}) => openApp(browser, `${server.url}/${query}`, options);
  const signIn = (page: Page, username: string, options: { create?: string } = {}) => signInAs(page, username, options);
  const api = (method: string, url: string, token: string, options: Record<string, unknown> = {}) => request(server.url, method, url, { token, ...options });

  async function attachment(id: number): Promise<{ received_bytes: number; size: number | null; complete: boolean; state: string; used_by: unknown }> {
    const reply = await api('GET', `/attachments/${id}`, alice.token);
    assert.equal(reply.status, 200, reply.text);
    return reply.json.body.attachment;
  }

  /** Records for `seconds` (calling `during` meanwhile), checking the server's bytes and the recorder's display as it goes; clicks Stop. */
  async function record(page: Page, seconds: number, during?: (elapsed: () => number) => Promise<void>, stop = true): Promise<Recording> {
    // The page loads its uploader after the first view; a user records after that.
    await page.locator('body[data-uploader="ready"]').waitFor({ state: 'attached' });
    await page.locator('#record').click();
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    const dock = page.locator('#dock');
    await page.locator('#dock[data-attachment-id]').waitFor({ state: 'attached' });
    const attachmentId = Number(await dock.getAttribute('data-attachment-id'));
    const receivedWhileRecording: number[] = [];
    const uploadStates: string[] = [];
    const levels: number[] = [];
    const watching = (async () => {
      while (elapsed() < seconds) {
        receivedWhileRecording.push((await attachment(attachmentId)).received_bytes);
        uploadStates.push((await page.locator('#upload-state').textContent()) ?? '');
        levels.push(Number(await page.locator('#level').evaluate((meter: { value: number }) => meter.value)));
        await delay(250);
      }
    })();
    await during?.(elapsed);
    await watching;
    const atStop = await attachment(attachmentId);
    const stopClickedAt = Date.now();
    if (stop) {
      assert.equal(atStop.size, null, 'the size is unknown while recording');
      await page.getByRole('button', { name: 'Stop', exact: true }).click();
      await page.locator('#dock[data-stopped-at]').waitFor({ state: 'attached' });
    }
    const recordedSeconds = Number(await page.locator('#elapsed').getAttribute('data-seconds'));
    return { attachmentId, bytesAtStop: atStop.received_bytes, receivedWhileRecording, uploadStates, levels, recordedSeconds, stopClickedAt };
  }

  const bubble = (page: Page, title: string) => page.locator('.bubble', { has: page.getByRole('heading', { name: title, exact: true }) });

  /** Plays `title`'s bubble from its button until its position has moved, then pauses it. */
  async function play(page: Page, title: string): Promise<Locator> {
    const item = bubble(page, title);
    await item.waitFor();
    await page.locator('#player').evaluate((audio: AudioElement) => void (audio.muted = true));
    await item.locator('.play').click();
    await page.locator('.bubble[data-first-sound-ms]', { has: page.getByRole('heading', { name: title, exact: true }) }).waitFor({ timeout: 15_000 });
    await item.getByRole('button', { name: `Pause ${title}` }).click();
    await item.getByRole('button', { name: `Play ${title}` }).waitFor();
    return item;
  }

  async function publishClip(token: string, title: string, file = fixture('tone.opus'), name = 'tone.opus'): Promise<{ id: number }> {
    const reply = await api('POST', '/audio_clips', token, { multipart: [['audio_clip[title]', title], ['audio_clip[uploaded_data]', file, name]] });
    assert.equal(reply.status, 201, reply.text);
    return reply.json.body.audio_clip;
  }

  test('sign up, record while uploading (elapsed time, level, upload state), publish: the clip is there a moment after Stop and lasts as long', async () => {
    const page = await newPage('#/mine');
    await signIn(page, alice.username, { create: `${alice.username}@example.com` });
    const token = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: alice.username, password: 'correct horse battery' } });
    alice.token = token.json.access_token;
    alice.id = (await api('GET', '/account', alice.token)).json.body.user.id;

    const recording = await record(page, 5);
    // Pieces reached the server while recording, before Stop.
    assert.ok(recording.receivedWhileRecording.some((bytes) => bytes > 0), `nothing arrived while recording: ${recording.receivedWhileRecording}`);
    assert.ok(recording.bytesAtStop > 0);
    assert.ok(recording.uploadStates.some((state) => /^On the server: [1-9]\d* s of [1-9]\d* s$/.test(state)), `upload states: ${recording.uploadStates}`);
    assert.ok(recording.levels.some((level) => level > 0.01), `the level meter never moved: ${recording.levels}`);
    assert.ok(recording.recordedSeconds >= 4, `elapsed ${recording.recordedSeconds} s`);
    await page.getByLabel('Title').fill('Morning walk');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “Morning walk”').waitFor();
    const publishedAfterMs = Date.now() - recording.stopClickedAt;

    const [mine] = (await api('GET', '/account/audio_clips', alice.token)).json.body.audio_clips;
    assert.equal(mine.title, 'Morning walk');
    const used = await attachment(recording.attachmentId);
    assert.deepEqual([used.state, used.used_by], ['used', { type: 'audio_clip', id: mine.id }], 'the attachment became the clip');
    assert.equal(mine.audio.content_type, 'audio/webm');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.6, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded`);
    measured.webm = { recordedSeconds: recording.recordedSeconds, duration: mine.duration, error: Number(error.toFixed(3)), size: mine.audio.size, bytesAtStop: recording.bytesAtStop, publishedAfterStopMs: publishedAfterMs };
    assert.ok(publishedAfterMs < 5000, `published ${publishedAfterMs} ms after Stop`);

    await play(page, 'Morning walk');
    await page.getByRole('link', { name: 'Public' }).click();
    await play(page, 'Morning walk');
    await page.context().close();
  });

  test('cancel stops a recording and deletes it on the server', async () => {
    const page = await newPage('#/mine');
    await signIn(page, alice.username);
    const recording = await record(page, 2, undefined, false);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByText('Recording cancelled; nothing was kept.').waitFor();
    for (let waited = 0; (await api('GET', `/attachments/${recording.attachmentId}`, alice.token)).status !== 404; waited += 100) {
      assert.ok(waited < 10_000, 'the cancelled recording is still on the server');
      await delay(100);
    }
    assert.equal(await page.locator('#drafts li').count(), 0);
    await page.context().close();
  });

  test('conversations: grouped by person, newest at the bottom, unread until played, heard for the sender, a reply in place', async () => {
    const bob = await newUser(server.url, 'bob');
    const carol = await newUser(server.url, 'carol');
    const fromCarol = await api('POST', '/account/outbox', carol.token, { multipart: [['message[recipient_id]', String(bob.id)], ['message[title]', 'Carol says hi'], ['message[uploaded_data]', fixture('tone.opus'), 'm.opus']] });
    assert.equal(fromCarol.status, 201);
    const page = await newPage('#/mine');
    await signIn(page, alice.username);
    const forBob = await record(page, 3);
    await page.getByLabel('Title').fill('For Bob');
    await page.getByLabel('To', { exact: true }).fill(bob.username);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText(`Sent “For Bob” to ${bob.username}`).waitFor();

    const inbox = await newPage();
    await signIn(inbox, bob.username);
    await inbox.locator('#unread-count', { hasText: '2' }).waitFor();
    const people = inbox.locator('#conversations li');
    await people.nth(1).waitFor();
    assert.deepEqual(await people.locator('.name').allTextContents(), [alice.username, carol.username], 'one row a person, the latest first');
    await people.first().getByLabel('1 unplayed').waitFor();
    await inbox.getByRole('link', { name: new RegExp(alice.username) }).click();
    const item = bubble(inbox, 'For Bob');
    await item.getByLabel('unplayed').waitFor();
    await play(inbox, 'For Bob');
    await item.getByLabel('unplayed').waitFor({ state: 'detached' });
    await inbox.locator('#unread-count', { hasText: '1' }).waitFor();
    const [received] = (await api('GET', '/account/inbox', bob.token)).json.body.messages.filter((m: { title: string }) => m.title === 'For Bob');
    assert.equal(received.played, true);
    assert.ok(Math.abs(received.duration - forBob.recordedSeconds) < 0.6, `message lasts ${received.duration} s, ${forBob.recordedSeconds} s were recorded`);

    // A reply in place: recorded in the conversation, sent at Stop, answering that message.
    await item.getByRole('button', { name: 'Reply' }).click();
    await inbox.getByText('Replying to “For Bob”').waitFor();
    await inbox.getByRole('button', { name: `Record a message to ${alice.username}` }).click();
    await delay(2500);
    await inbox.getByRole('button', { name: 'Stop', exact: true }).click();
    await inbox.getByText(/^Sent “voice message” to /).waitFor({ timeout: 15_000 });
    const [reply] = (await api('GET', '/account/outbox', bob.token)).json.body.messages;
    assert.equal(reply.parent_id, received.id);
    const titles = inbox.locator('#thread-list .bubble .title');
    await inbox.locator('#thread-list .bubble').nth(1).waitFor();
    assert.deepEqual(await titles.allTextContents(), ['For Bob', 'Voice message from you'], 'the newest at the bottom');
    await inbox.locator('#thread-list .bubble').last().getByText('Reply to “For Bob”').waitFor();

    // The sender sees it heard, and the reply under it.
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('link', { name: new RegExp(bob.username) }).click();
    await bubble(page, 'For Bob').getByText('Heard').waitFor();
    await page.locator('#thread-list .bubble.unplayed').getByText('Reply to “For Bob”').waitFor();
    await page.context().close();
    await inbox.context().close();
  });

  test('a recording discarded, or replaced by a new one before it is published, is deleted on the server', async () => {
    const page = await newPage('#/mine');
    await signIn(page, alice.username);
    const gone = async (id: number) => {
      for (let waited = 0; waited < 10_000; waited += 100) {
        if ((await api('GET', `/attachments/${id}`, alice.token)).status === 404) return;
        await delay(100);
      }
      assert.fail(`attachment ${id} is still on the server`);
    };
    const discarded = await record(page, 2);
    await page.getByRole('button', { name: 'Discard' }).click();
    await gone(discarded.attachmentId);
    const replaced = await record(page, 2);
    const kept = await record(page, 2);
    await gone(replaced.attachmentId);
    // The last seconds arrive after Stop.
    for (let waited = 0; (await attachment(kept.attachmentId)).state !== 'complete' && waited < 10_000; waited += 100) await delay(100);
    assert.equal((await attachment(kept.attachmentId)).state, 'complete');
    const open = (await api('GET', '/attachments', alice.token)).json.body.attachments.map((a: { id: number }) => a.id);
    assert.deepEqual(open, [kept.attachmentId]);
    await page.getByRole('button', { name: 'Discard' }).click();
    await gone(kept.attachmentId);
    await page.context().close();
  });

  test('a recording survives a reload and a closed tab: kept on the device, its upload resumed, then sent or discarded', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await newPage('#/mine', { context });
    await signIn(page, alice.username);
    const cut = await record(page, 4.5, undefined, false);
    await page.reload();
    const draft = page.locator('#drafts li');
    await draft.getByText(/^Unsent recording, 0:0[3-5]/).waitFor();
    await draft.getByText('On the server: all of it').waitFor({ timeout: 20_000 });
    await draft.getByRole('button', { name: /^Send/ }).click();
    await page.getByLabel('Title').fill('Saved by the device');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “Saved by the device”').waitFor({ timeout: 20_000 });
    await draft.waitFor({ state: 'detached' });
    const [clip] = (await api('GET', '/account/audio_clips', alice.token)).json.body.audio_clips;
    assert.equal(clip.title, 'Saved by the device');
    assert.ok(clip.duration >= 3 && clip.duration <= 6.5, `the kept recording lasts ${clip.duration} s`);
    const used = await attachment(cut.attachmentId);
    assert.equal(used.state, 'used', 'the upload begun before the reload was continued, not started over');

    // A tab closed while recording: the next one offers what it kept.
    const closed = await record(page, 3, undefined, false);
    await page.close();
    const again = await newPage('#/mine', { context });
    await again.locator('#drafts li').getByText(/^Unsent recording/).waitFor();
    await again.locator('#drafts li').getByRole('button', { name: /^Discard/ }).click();
    await again.locator('#drafts li').waitFor({ state: 'detached' });
    for (let waited = 0; (await api('GET', `/attachments/${closed.attachmentId}`, alice.token)).status !== 404; waited += 100) {
      assert.ok(waited < 10_000, 'the discarded recording is still on the server');
      await delay(100);
    }
    await context.close();
  });

  test('a connection dropped while recording pauses the upload, shows the offline banner, and loses no audio', async () => {
    const page = await newPage('#/mine');
    await signIn(page, alice.username);
    let offlineFrom = 0;
    let offlineTo = 0;
    let bytesWhenOffline = 0;
    let bytesBackOnline = 0;
    const recording = await record(page, 9, async (elapsed) => {
      while (elapsed() < 2) await delay(100);
      const id = Number(await page.locator('#dock').getAttribute('data-attachment-id'));
      await page.context().setOffline(true);
      offlineFrom = elapsed();
      bytesWhenOffline = (await attachment(id)).received_bytes;
      await page.getByText(/You are offline/).waitFor({ timeout: 8000 });
      await page.getByText(/Offline: the upload is paused/).waitFor({ timeout: 8000 });
      while (elapsed() < 6) await delay(100);
      bytesBackOnline = (await attachment(id)).received_bytes;
      await page.context().setOffline(false);
      offlineTo = elapsed();
    });
    await page.getByText(/You are offline/).waitFor({ state: 'hidden', timeout: 10_000 });
    // Nothing got through while offline (give or take a request already on its way).
    assert.ok(bytesBackOnline - bytesWhenOffline < 40_000, `offline, the server got ${bytesBackOnline - bytesWhenOffline} bytes`);
    await page.getByLabel('Title').fill('Through a tunnel');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “Through a tunnel”').waitFor({ timeout: 20_000 });
    const [mine] = (await api('GET', '/account/audio_clips', alice.token)).json.body.audio_clips;
    assert.equal(mine.title, 'Through a tunnel');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.6, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded (offline ${offlineFrom.toFixed(1)}-${offlineTo.toFixed(1)} s)`);
    measured.offline = { recordedSeconds: recording.recordedSeconds, offlineSeconds: Number((offlineTo - offlineFrom).toFixed(1)), duration: mine.duration, error: Number(error.toFixed(3)) };
    await page.context().close();
  });

  test('recorded as MP4 where the browser can, the duration is right too', async (t) => {
    const page = await newPage('?format=audio/mp4#/mine');
    const canRecordMp4 = await page.evaluate(() => (globalThis as unknown as { MediaRecorder: { isTypeSupported(type: string): boolean } }).MediaRecorder.isTypeSupported('audio/mp4'));
    if (!canRecordMp4) {
      t.skip('this Chromium cannot record MP4');
      return;
    }
    await signIn(page, alice.username);
    const recording = await record(page, 4);
    await page.getByLabel('Title').fill('As MP4');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “As MP4”').waitFor();
    const [mine] = (await api('GET', '/account/audio_clips', alice.token)).json.body.audio_clips;
    assert.equal(mine.audio.content_type, 'audio/mp4');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.6, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded`);
    measured.mp4 = { codec: mine.audio.codec, recordedSeconds: recording.recordedSeconds, duration: mine.duration, error: Number(error.toFixed(3)) };
    await play(page, 'As MP4');
    await page.context().close();
  });

  test('a bubble: the server waveform, duration and date; play and pause; scrubbing by pointer and keys; playback speed', async () => {
    const speech = readFileSync(speechWav(dir) ?? path.join(ROOT, 'test', 'fixtures', 'tone.wav'));
    const clip = await publishClip(alice.token, 'Spoken words', speech, 'speech.wav');
    const view = await waitProcessed(server.url, `/audio_clips/${clip.id}`, undefined);
    const page = await newPage('#/public');
    const item = bubble(page, 'Spoken words');
    await item.waitFor();
    if (view.urls.waveform) await page.locator('.bubble[data-waveform="drawn"]', { has: page.getByRole('heading', { name: 'Spoken words' }) }).waitFor();
    const whole = `0:${String(Math.floor(view.duration)).padStart(2, '0')}`;
    assert.equal(await item.locator('.time').textContent(), whole);
    assert.ok(await item.locator(`time[datetime="${view.uploaded_at}"]`).count(), 'the date is there');
    await play(page, 'Spoken words');
    const player = page.locator('#player');
    assert.equal(await player.evaluate((audio: AudioElement) => audio.paused), true, 'paused');
    // A click in the middle of the waveform goes to the middle.
    const wave = item.getByRole('slider', { name: 'Position in Spoken words' });
    const box = (await wave.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await delay(300);
    const middle = await player.evaluate((audio: AudioElement) => audio.currentTime);
    assert.ok(Math.abs(middle - view.duration / 2) < 1.2, `at ${middle} s of ${view.duration} s`);
    await item.getByRole('button', { name: 'Pause Spoken words' }).click();
    await wave.focus();
    await page.keyboard.press('Home');
    assert.ok((await player.evaluate((audio: AudioElement) => audio.currentTime)) < 0.3, 'Home goes to the start');
    await page.keyboard.press('ArrowRight');
    assert.ok(Math.abs((await player.evaluate((audio: AudioElement) => audio.currentTime)) - Math.min(5, view.duration)) < 0.3, 'an arrow moves 5 s');
    assert.match((await wave.getAttribute('aria-valuetext'))!, / of /);
    await item.getByRole('button', { name: 'Playback speed 1 times' }).click();
    assert.equal(await player.evaluate((audio: AudioElement) => audio.playbackRate), 1.5);
    await item.getByRole('button', { name: 'Playback speed 1.5 times' }).waitFor();
    await item.getByRole('button', { name: 'Playback speed 1.5 times' }).click();
    await item.getByRole('button', { name: 'Playback speed 2 times' }).click();
    assert.equal(await player.evaluate((audio: AudioElement) => audio.playbackRate), 1);
    await page.context().close();
  });

  test('feeds page to the oldest item as they scroll, without layout shift', async () => {
    const dave = await newUser(server.url, 'dave');
    for (let i = 1; i <= 7; i += 1) await publishClip(dave.token, `Paged ${i}`);
    const total = (await request(server.url, 'GET', '/audio_clips?page[items]=150')).json.body.audio_clips.length;
    const page = await newPage('?page_items=3#/public');
    await page.evaluate(() => {
      const scope = globalThis as unknown as { shifts: number; PerformanceObserver: new (callback: (list: { getEntries(): Array<{ value: number; hadRecentInput: boolean }> }) => void) => { observe(options: object): void } };
      scope.shifts = 0;
      new scope.PerformanceObserver((list) => list.getEntries().forEach((entry) => (scope.shifts += entry.hadRecentInput ? 0 : entry.value))).observe({ type: 'layout-shift', buffered: true });
    });
    const end = page.getByText(`That is all: ${total} in total.`);
    for (let round = 0; round < 20 && !(await end.isVisible()); round += 1) {
      await page.locator('main').evaluate((main: { scrollTop: number; scrollHeight: number }) => void (main.scrollTop = main.scrollHeight));
      await delay(300);
    }
    await end.waitFor();
    assert.equal(await page.locator('#public-clips .bubble').count(), total);
    await bubble(page, 'Paged 1').waitFor();
    const shifts = await page.evaluate(() => (globalThis as unknown as { shifts: number }).shifts);
    measured.layoutShift = shifts;
    assert.ok(shifts < 0.02, `cumulative layout shift ${shifts}`);
    await page.context().close();
  });

  test('my clips: upload a file with a progress bar, edit a title, delete; delete a message', async () => {
    const erin = await newUser(server.url, 'erin');
    const page = await newPage('#/mine');
    await signIn(page, erin.username);
    await page.getByLabel('Upload an audio file').setInputFiles(path.join(ROOT, 'test', 'fixtures', 'tone.wav'));
    await page.getByRole('button', { name: 'Upload file' }).click();
    await page.getByText(/^Uploaded: \d+ bytes/).waitFor();
    assert.equal(await page.getByLabel('File upload progress').evaluate((bar: { value: number }) => bar.value), 1);
    assert.equal(await page.getByLabel('Title').inputValue(), 'tone');
    await page.getByLabel('Title').fill('From a file');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “From a file”').waitFor();
    const item = bubble(page, 'From a file');
    await item.getByRole('button', { name: 'Edit title' }).click();
    await item.getByLabel('New title').fill('Renamed');
    await item.getByRole('button', { name: 'Save title' }).click();
    const renamed = bubble(page, 'Renamed');
    await renamed.waitFor();
    const [clip] = (await api('GET', '/account/audio_clips', erin.token)).json.body.audio_clips;
    assert.equal(clip.title, 'Renamed');
    await renamed.getByRole('button', { name: 'Delete', exact: true }).click();
    await renamed.getByRole('button', { name: 'Delete clip' }).click();
    await renamed.waitFor({ state: 'detached' });
    assert.equal((await request(server.url, 'GET', `/audio_clips/${clip.id}`)).status, 404);

    const sent = await api('POST', '/account/outbox', erin.token, { multipart: [['message[recipient_id]', String(alice.id)], ['message[title]', 'Delete me'], ['message[uploaded_data]', fixture('tone.opus'), 'm.opus']] });
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('link', { name: new RegExp(alice.username) }).click();
    const message = bubble(page, 'Delete me');
    await message.getByRole('button', { name: 'Delete', exact: true }).click();
    await message.getByRole('button', { name: 'Keep' }).click();
    await message.getByRole('button', { name: 'Delete', exact: true }).click();
    await message.getByRole('button', { name: 'Delete message' }).click();
    await message.waitFor({ state: 'detached' });
    assert.equal((await api('GET', `/account/messages/${sent.json.body.message.id}`, erin.token)).status, 404);
    await page.context().close();
  });

  test('accessible: axe-core finds nothing (where installed), every control has a name, keyboard alone records and plays', async () => {
    const axe = axeSource();
    const page = await newPage('#/messages', { viewport: PHONE });
    await signIn(page, alice.username);
    const views = ['#/messages', `#/messages/${'bob'}`, '#/public', '#/mine', '#/account'];
    const bob = (await api('GET', '/account/outbox', alice.token)).json.body.messages[0]?.recipient.username ?? 'nobody';
    views[1] = `#/messages/${bob}`;
    const findings: Record<string, unknown> = {};
    for (const view of views) {
      await page.evaluate((hash) => void ((globalThis as unknown as { location: { hash: string } }).location.hash = hash), view);
      await delay(800);
      // A string, not a function: the test's compiler would wrap inner functions in a helper the page lacks.
      const unnamed: string[] = await page.evaluate(`[...document.querySelectorAll('button, a[href], input, meter, progress, [role="slider"], select, textarea')]
        .filter((el) => el.checkVisibility() && !(el.getAttribute('aria-label')?.trim() || el.textContent.trim() || el.labels?.length || el.getAttribute('aria-labelledby')))
        .map((el) => el.outerHTML.slice(0, 120))`);
      assert.deepEqual(unnamed, [], `controls without a name on ${view}`);
      if (axe) {
        const violations = await page.evaluate(async (source) => {
          const scope = globalThis as unknown as { axe?: { run(options?: object): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }> } };
          if (!scope.axe) (0, eval)(source);
          const result = await scope.axe!.run();
          return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
        }, axe);
        findings[view] = violations;
        assert.deepEqual(violations, [], `axe-core on ${view}`);
      }
    }
    measured.axe = axe ? findings : 'axe-core is not installed: only the name and keyboard checks ran';

    // Keyboard only: Tab walks the page in reading order, from the skip link to the recorder.
    await page.evaluate(() => void ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/public'));
    await page.reload();
    await page.locator('#public-clips .bubble').first().waitFor();
    const order: string[] = [];
    for (let i = 0; i < 60; i += 1) {
      await page.keyboard.press('Tab');
      const at = await page.evaluate(() => {
        const active = (globalThis as unknown as { document: { activeElement: { id: string; className: string; tagName: string } | null } }).document.activeElement;
        return active ? `${active.tagName.toLowerCase()}#${active.id}.${active.className}` : '';
      });
      order.push(at);
      if (at.startsWith('button#record')) break;
    }
    assert.match(order[0]!, /^a#\.skip/, 'the skip link comes first');
    assert.ok(order.indexOf('a#nav-public.') < order.findIndex((o) => o.startsWith('button#.play')), `navigation before the content: ${order.join(' ')}`);
    assert.ok(order.some((o) => o.startsWith('button#record')), `the recorder is reached: ${order.join(' ')}`);
    // Space plays the first clip, Space pauses it.
    const first = page.locator('#public-clips .bubble').first();
    await first.locator('.play').focus();
    await page.locator('#player').evaluate((audio: AudioElement) => void (audio.muted = true));
    await page.keyboard.press('Space');
    await page.locator('#public-clips .bubble[data-first-sound-ms]').first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#player').evaluate((audio: AudioElement) => audio.paused), true);
    // Enter on Record records; Stop has the focus then.
    await page.locator('#record').focus();
    await page.keyboard.press('Enter');
    await page.locator('#stop:focus').waitFor();
    await delay(1500);
    await page.keyboard.press('Enter');
    await page.getByLabel('Title').waitFor();
    await page.getByRole('button', { name: 'Discard' }).click();
    await page.context().close();
  });

  test('screenshots of the main views, phone and desktop, light and dark (WEBAPP_SCREENSHOTS=1)', { skip: process.env.WEBAPP_SCREENSHOTS ? false : 'set WEBAPP_SCREENSHOTS=1 to write docs/screenshots/' }, async () => {
    const out = path.join(ROOT, 'docs', 'screenshots');
    await mkdir(out, { recursive: true });
    const bob = (await api('GET', '/account/outbox', alice.token)).json.body.messages[0]?.recipient.username;
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
      for (const scheme of ['light', 'dark'] as const) {
        const page = await newPage('#/messages', { viewport, colorScheme: scheme });
        await signIn(page, alice.username);
        await serviceWorkerReady(page);
        for (const [name, hash] of [['conversations', '#/messages'], ['conversation', `#/messages/${bob}`], ['public', '#/public'], ['my-clips', '#/mine']]) {
          if (size === 'desktop' && name === 'conversations') continue;
          await page.evaluate((h) => void ((globalThis as unknown as { location: { hash: string } }).location.hash = h), hash!);
          await delay(1500);
          const file = path.join(out, `${name}-${size}-${scheme}.png`);
          await page.screenshot({ path: file });
          assert.ok(existsSync(file));
        }
        if (scheme === 'light') {
          await page.evaluate(() => void ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/mine'));
          await page.locator('#record').click();
          await delay(2500);
          await page.screenshot({ path: path.join(out, `recording-${size}-light.png`) });
          await page.getByRole('button', { name: 'Cancel', exact: true }).click();
        }
        await page.context().close();
      }
    }
  });
});
