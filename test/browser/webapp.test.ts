/**
 * The web app in a real browser: Debian's Chromium driven by playwright-core, with a fake
 * microphone that plays a spoken WAV (espeak-ng). It records while uploading: pieces are on the
 * server before Stop is clicked, the clip is published a moment after Stop, plays, and lasts
 * as long as the recording; a message reaches its recipient and is marked played; a connection
 * dropped while recording loses no audio. Skipped when Chromium is not installed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.join(import.meta.dirname, '..', '..');
const PASSWORD = 'correct horse battery';

/** A few seconds of speech at 48 kHz, the fake microphone's input; null without espeak-ng and sox. */
function speechWav(dir: string): string | null {
  const raw = path.join(dir, 'speech-raw.wav');
  const wav = path.join(dir, 'speech.wav');
  const text = 'Trickle uploads a recording while it is being made, so that when the speaker taps stop, the message is already on the server.';
  if (spawnSync('espeak-ng', ['-w', raw, text]).status !== 0) return null;
  if (spawnSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', wav]).status !== 0) return null;
  return wav;
}

function launchArgs(wav: string | null): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : []),
  ];
}

interface Recording {
  attachmentId: number;
  /** Bytes the server held when Stop was clicked (asked over the API just before). */
  bytesAtStop: number;
  /** The server's view while recording, before Stop: each poll's received bytes. */
  receivedWhileRecording: number[];
  /** Seconds the page says it recorded. */
  recordedSeconds: number;
  stopClickedAt: number;
}

/** What the test uses of an <audio> element (the project compiles without the DOM's types). */
interface AudioElement {
  muted: boolean;
  currentTime: number;
  error: { code: number } | null;
  play(): Promise<void>;
  pause(): void;
}

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

describe('the web app in Chromium', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let dir: string;
  const alice = { username: `alice_${process.pid}`, token: '' };
  const measured: Record<string, unknown> = {};

  before(async () => {
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale']); // the SDK modules the page loads
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-browser-'));
    server = await startServer(databaseKinds()[0]!);
    const wav = speechWav(dir);
    if (!wav) console.log('# espeak-ng or sox missing: the fake microphone plays its default beeps');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: launchArgs(wav) });
  });
  after(async () => {
    console.log(`# measured: ${JSON.stringify(measured)}`);
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function newPage(context?: BrowserContext, query = ''): Promise<Page> {
    const page = await (context ?? (await browser.newContext({ viewport: { width: 760, height: 1000 } }))).newPage();
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    await page.goto(`${server.url}/${query}`);
    return page;
  }

  async function signIn(page: Page, username: string, options: { create?: string } = {}): Promise<void> {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    if (options.create) {
      await page.getByLabel('Email').fill(options.create);
      await page.getByRole('button', { name: 'Create account' }).click();
    } else await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText(`Signed in as ${username}`).waitFor();
  }

  async function attachment(id: number): Promise<{ received_bytes: number; size: number | null; complete: boolean; state: string; used_by: unknown }> {
    const reply = await request(server.url, 'GET', `/attachments/${id}`, { token: alice.token });
    assert.equal(reply.status, 200, reply.text);
    return reply.json.body.attachment;
  }

  /** Records for `seconds` (calling `during` meanwhile), checking the server's bytes as it goes; clicks Stop. */
  async function record(page: Page, seconds: number, during?: (elapsed: () => number) => Promise<void>): Promise<Recording> {
    await page.getByRole('button', { name: 'Record', exact: true }).click();
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    const meters = page.locator('#meters');
    await page.locator('#meters[data-attachment-id]').waitFor({ state: 'attached' });
    const attachmentId = Number(await meters.getAttribute('data-attachment-id'));
    const receivedWhileRecording: number[] = [];
    const watching = (async () => {
      while (elapsed() < seconds) {
        receivedWhileRecording.push((await attachment(attachmentId)).received_bytes);
        await delay(250);
      }
    })();
    await during?.(elapsed);
    await watching;
    const atStop = await attachment(attachmentId);
    assert.equal(atStop.size, null, 'the size is unknown while recording');
    const stopClickedAt = Date.now();
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByLabel('Title').waitFor();
    const recordedSeconds = Number(await page.locator('#recorded-seconds').textContent());
    return { attachmentId, bytesAtStop: atStop.received_bytes, receivedWhileRecording, recordedSeconds, stopClickedAt };
  }

  async function clip(id: number) {
    const reply = await request(server.url, 'GET', `/audio_clips/${id}`);
    return reply.json.body.audio_clip;
  }

  /** Plays the <audio> of the list item titled `title` in `list` until it has played `seconds`. */
  async function play(page: Page, list: string, title: string, seconds = 0.5): Promise<void> {
    const item = page.locator(`#${list} li`, { has: page.getByRole('heading', { name: title }) });
    await item.waitFor();
    const audio = item.locator('audio');
    await audio.evaluate(async (element: AudioElement, wanted: number) => {
      element.muted = true;
      await element.play();
      const deadline = Date.now() + 10_000;
      while (element.currentTime < wanted) {
        if (element.error) throw new Error(`audio error ${element.error.code}`);
        if (Date.now() > deadline) throw new Error(`played only ${element.currentTime} s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      element.pause();
    }, seconds);
  }

  test('sign up, record while uploading, publish: the clip is there a moment after Stop and lasts as long', async () => {
    const page = await newPage();
    await signIn(page, alice.username, { create: `${alice.username}@example.com` });
    alice.token = (await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: alice.username, password: PASSWORD } })).json.access_token;

    const recording = await record(page, 5);
    // Pieces reached the server while recording, before Stop.
    assert.ok(recording.receivedWhileRecording.some((bytes) => bytes > 0), `nothing arrived while recording: ${recording.receivedWhileRecording}`);
    assert.ok(recording.bytesAtStop > 0);
    await page.getByLabel('Title').fill('Morning walk');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “Morning walk”').waitFor();
    const publishedAfterMs = Date.now() - recording.stopClickedAt;

    const [mine] = (await request(server.url, 'GET', '/account/audio_clips', { token: alice.token })).json.body.audio_clips;
    assert.equal(mine.title, 'Morning walk');
    const used = await attachment(recording.attachmentId);
    assert.deepEqual([used.state, used.used_by], ['used', { type: 'audio_clip', id: mine.id }], 'the attachment became the clip');
    assert.equal(mine.audio.content_type, 'audio/webm');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.5, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded`);
    Object.assign(measured, {
      webm: { recordedSeconds: recording.recordedSeconds, duration: mine.duration, error: Number(error.toFixed(3)), size: mine.audio.size, bytesAtStop: recording.bytesAtStop },
      publishedAfterStopMs: publishedAfterMs,
    });
    assert.ok(publishedAfterMs < 5000, `published ${publishedAfterMs} ms after Stop`);

    await page.getByRole('heading', { name: 'Morning walk' }).first().waitFor();
    await play(page, 'my-clips', 'Morning walk');
    await play(page, 'public-clips', 'Morning walk');
    const screenshot = process.env.WEBAPP_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    await page.context().close();
  });

  test('a message recorded for a user reaches their inbox, unplayed until played', async () => {
    const bob = await newUser(server.url, 'bob');
    const page = await newPage();
    await signIn(page, alice.username);
    await record(page, 3);
    await page.getByLabel('Title').fill('For Bob');
    await page.getByLabel('To', { exact: true }).fill(bob.username);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText(`Sent “For Bob” to ${bob.username}`).waitFor();
    await page.context().close();

    const inbox = await newPage();
    await signIn(inbox, bob.username);
    const item = inbox.locator('#inbox li', { has: inbox.getByRole('heading', { name: 'For Bob' }) });
    await item.waitFor();
    await item.getByLabel('unplayed').waitFor();
    await play(inbox, 'inbox', 'For Bob');
    await item.getByLabel('unplayed').waitFor({ state: 'detached' });
    const [message] = (await request(server.url, 'GET', '/account/inbox', { token: bob.token })).json.body.messages;
    assert.equal(message.title, 'For Bob');
    assert.equal(message.played, true);
    assert.ok(Math.abs(message.duration - 3) < 0.6, `message lasts ${message.duration} s`);
    await inbox.context().close();
  });

  test('a recording discarded, or replaced by a new one before it is published, is deleted on the server', async () => {
    const page = await newPage();
    await signIn(page, alice.username);
    const gone = async (id: number) => {
      for (let waited = 0; waited < 10_000; waited += 100) {
        if ((await request(server.url, 'GET', `/attachments/${id}`, { token: alice.token })).status === 404) return;
        await delay(100);
      }
      assert.fail(`attachment ${id} is still on the server`);
    };
    // Each recording names its own attachment: the page keeps the last one's id otherwise.
    const forgetId = () => page.locator('#meters').evaluate((meters: { removeAttribute(name: string): void }) => meters.removeAttribute('data-attachment-id'));
    const discarded = await record(page, 2);
    await page.getByRole('button', { name: 'Discard' }).click();
    await gone(discarded.attachmentId);
    await forgetId();
    const replaced = await record(page, 2);
    await forgetId();
    const kept = await record(page, 2);
    await gone(replaced.attachmentId);
    // The last second arrives after Stop.
    for (let waited = 0; (await attachment(kept.attachmentId)).state !== 'complete' && waited < 10_000; waited += 100) await delay(100);
    assert.equal((await attachment(kept.attachmentId)).state, 'complete');
    const open = (await request(server.url, 'GET', '/attachments', { token: alice.token })).json.body.attachments.map((a: { id: number }) => a.id);
    assert.deepEqual(open, [kept.attachmentId]);
    await page.getByRole('button', { name: 'Discard' }).click();
    await gone(kept.attachmentId);
    await page.context().close();
  });

  test('a connection dropped while recording pauses the upload and loses no audio', async () => {
    const page = await newPage();
    await signIn(page, alice.username);
    let offlineFrom = 0;
    let offlineTo = 0;
    let bytesWhenOffline = 0;
    let bytesBackOnline = 0;
    const recording = await record(page, 9, async (elapsed) => {
      while (elapsed() < 2) await delay(100);
      const id = Number(await page.locator('#meters').getAttribute('data-attachment-id'));
      await page.context().setOffline(true);
      offlineFrom = elapsed();
      bytesWhenOffline = (await attachment(id)).received_bytes;
      await page.getByText(/Offline: the upload is paused/).waitFor({ timeout: 8000 });
      while (elapsed() < 6) await delay(100);
      bytesBackOnline = (await attachment(id)).received_bytes;
      await page.context().setOffline(false);
      offlineTo = elapsed();
    });
    // Nothing got through while offline (give or take a request already on its way).
    assert.ok(bytesBackOnline - bytesWhenOffline < 20_000, `offline, the server got ${bytesBackOnline - bytesWhenOffline} bytes`);
    await page.getByLabel('Title').fill('Through a tunnel');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published “Through a tunnel”').waitFor({ timeout: 20_000 });
    const [mine] = (await request(server.url, 'GET', '/account/audio_clips', { token: alice.token })).json.body.audio_clips;
    assert.equal(mine.title, 'Through a tunnel');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.5, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded (offline ${offlineFrom.toFixed(1)}-${offlineTo.toFixed(1)} s)`);
    measured.offline = { recordedSeconds: recording.recordedSeconds, offlineSeconds: Number((offlineTo - offlineFrom).toFixed(1)), duration: mine.duration, error: Number(error.toFixed(3)) };
    await page.context().close();
  });

  test('recorded as MP4 where the browser can, the duration is right too', async (t) => {
    const page = await newPage(undefined, '?format=audio/mp4');
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
    const [mine] = (await request(server.url, 'GET', '/account/audio_clips', { token: alice.token })).json.body.audio_clips;
    assert.equal(mine.audio.content_type, 'audio/mp4');
    const error = mine.duration - recording.recordedSeconds;
    assert.ok(Math.abs(error) < 0.5, `clip lasts ${mine.duration} s, ${recording.recordedSeconds} s were recorded`);
    measured.mp4 = { codec: mine.audio.codec, recordedSeconds: recording.recordedSeconds, duration: mine.duration, error: Number(error.toFixed(3)) };
    await play(page, 'my-clips', 'As MP4');
    assert.ok((await clip(mine.id)).id === mine.id);
    await page.context().close();
  });
});
