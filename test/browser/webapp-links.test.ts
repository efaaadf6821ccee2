/**
 * The web app on a phone's bad link: Chromium talks to the server only through the link
 * emulator (test/helpers/link-emulator.ts).
 * - The recorder uploads while recording over the 3G link with a 2 s handover every 8 s: from
 *   Stop to the server holding the whole recording with the SHA1 the page computed is short
 *   (median of three recordings ending at different points of the outage cycle): under 3/4 of
 *   the time the link needs to carry the whole file, so most of it went while recording; and
 *   the link carries little more than the file. These are loose bounds that hold on a loaded machine;
 *   the figures against the targets (1 s, 1.05x) are `npm run bench:links`'s.
 * - A one-minute voice message on the 3G link: the page picks a small rendition (AAC) by
 *   itself, the original when asked, and the small one sounds within a loose bound (the
 *   figures against the 1.5 s target are `npm run bench:listen`'s).
 * - A first visit whose link drops for 2 s while the page's modules load: the app starts by
 *   itself once the link is back (no reload), and says meanwhile that it waits.
 * Skipped without Chromium (and the media part without ffmpeg and espeak-ng).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { linkScenarios } from '../../bench/links/scenarios.js';
import { RECORDING_SECONDS, median } from '../../bench/links/recording.js';
import { buildForBrowser, chromiumMissing, launchChromium, openApp, PHONE, signIn, speechWav } from '../helpers/browser.js';
import { newUser, request } from '../helpers/client.js';
import { databaseKinds } from '../helpers/databases.js';
import { LinkEmulator } from '../helpers/link-emulator.js';
import { mediaToolsMissing, waitProcessed } from '../helpers/processing.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { firstSound, recordedLikeABrowser, recordOverLink } from '../helpers/web-links.js';

const scenario = (name: string) => linkScenarios().find((s) => s.name === name)!;

describe('the web app over an emulated phone link', { skip: chromiumMissing }, () => {
  let server: TestServer;
  let browser: Browser;
  let dir: string;
  const measured: Record<string, unknown> = {};

  before(async () => {
    buildForBrowser();
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-web-links-'));
    server = await startServer(databaseKinds()[0]!);
    browser = await launchChromium(speechWav(dir));
  });
  after(async () => {
    console.log(`# measured: ${JSON.stringify(measured)}`);
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the recorder over the 3G handover link: the whole recording on the server soon after Stop (median), the link carrying little more than the file', async () => {
    // The page loads and signs in on the calm 3G link; each recording starts the handover link afresh.
    const link = await LinkEmulator.start(server.url, scenario('3g').profile);
    const user = await newUser(server.url, 'web_rec');
    const page = await openApp(browser, `${link.url}/#/mine`);
    try {
      await signIn(page, user.username, { password: 'correct horse battery' });
      const attachment = async (id: number) => (await request(server.url, 'GET', `/attachments/${id}`, { token: user.token })).json.body.attachment;
      const runs = [];
      for (const seconds of RECORDING_SECONDS) runs.push(await recordOverLink(page, link, seconds, attachment, scenario('3g-handover').profile));
      const times = runs.map((r) => r.afterStopMs);
      const bytes = runs.reduce((sum, r) => sum + r.linkBytes, 0) / runs.reduce((sum, r) => sum + r.fileBytes, 0);
      measured.recording = { afterStopMs: times, medianMs: median(times), linkBytesOverFile: Number(bytes.toFixed(3)), fileBytes: runs.map((r) => r.fileBytes) };
      // Sending the file after Stop would take at least this long, outages aside.
      const wholeFileMs = (median(runs.map((r) => r.fileBytes)) / scenario('3g-handover').profile.upBytesPerSecond) * 1000;
      assert.ok(median(times) <= 0.75 * wholeFileMs, `median ${median(times)} ms from Stop to the whole file on the server (${times.join(', ')}); the whole file takes ${Math.round(wholeFileMs)} ms on the link`);
      assert.ok(bytes <= 1.08, `link bytes ${bytes.toFixed(3)}x the file`);
    } finally {
      await page.context().close();
      await link.close();
    }
  });

  test('the link drops for 2 s while the page loads its modules: the app starts by itself once it is back, with no reload', async () => {
    const profile = scenario('3g').profile;
    const link = await LinkEmulator.start(server.url, profile);
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    const documents: string[] = [];
    const failed: string[] = [];
    let cutAt = 0;
    page.on('request', (request) => {
      if (request.isNavigationRequest()) documents.push(request.url());
    });
    page.on('requestfailed', (request) => failed.push(new URL(request.url()).pathname));
    const entries: string[] = [];
    page.on('requestfinished', (request) => {
      if (/\/app\/(retry\/\d+\/)?app\.js$/.test(request.url())) entries.push(new URL(request.url()).pathname);
    });
    // The page has come; its modules are on their way (a round trip takes 200 ms): the link drops now.
    page.on('requestfinished', (request) => {
      if (cutAt || !request.isNavigationRequest()) return;
      cutAt = Date.now();
      link.restart({ ...profile, outages: [{ atMs: 0, durationMs: 2000, kind: 'reset' }] });
    });
    try {
      await page.goto(`${link.url}/#/mine`, { waitUntil: 'commit' });
      // While the link is down the page says it waits for it.
      await page.locator('#load-status').waitFor({ state: 'visible', timeout: 2000 });
      assert.ok(failed.some((url) => url.startsWith('/app/') && url.endsWith('.js')), `a module failed to load (failed: ${failed.join(', ')})`);
      // Back 2 s after the cut; the first view (here the sign-in form) within 10 s of that.
      await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 12_000 });
      measured.firstLoad = { afterCutMs: Date.now() - cutAt, entries };
      assert.equal(await page.locator('#load-status').isVisible(), false, 'the waiting note goes once the app is up');
      // The modules loaded after the outage fit together: the uploader comes after the first view.
      await page.locator('body[data-uploader="ready"]').waitFor({ state: 'attached', timeout: 15_000 });
      assert.equal(documents.length, 1, `the page was not reloaded: ${documents.join(', ')}`);
    } finally {
      await context.close();
      await link.close();
    }
  });

  test('a one-minute message on the 3G link: the small rendition by default, the original on demand, first sound soon', { skip: mediaToolsMissing() }, async () => {
    const [ann, ben] = [await newUser(server.url, 'web_ann'), await newUser(server.url, 'web_ben')];
    const webm = path.join(dir, 'minute.webm');
    recordedLikeABrowser(speechWav(dir, 60)!, webm);
    const sent = await request(server.url, 'POST', '/account/outbox', {
      token: ben.token,
      multipart: [['message[recipient_id]', String(ann.id)], ['message[title]', 'A minute of news'], ['message[uploaded_data]', readFileSync(webm), 'minute.webm']],
    });
    assert.equal(sent.status, 201, sent.text);
    const message = await waitProcessed(server.url, `/account/messages/${sent.json.body.message.id}`, ann.token);
    assert.equal(message.processing, 'ready');
    const link = await LinkEmulator.start(server.url, scenario('3g').profile);
    try {
      const play = (choice: 'auto' | 'original') => firstSound(browser, link, { username: ann.username, sender: ben.username, title: 'A minute of news', choice });
      const auto = await play('auto');
      assert.equal(auto.played, 'low_aac', 'on a slow link the page picks the small AAC file (it starts sooner than Ogg)');
      const original = await play('original');
      assert.equal(original.played, 'original');
      measured.firstSound = { auto, original };
      // Loose: a loaded machine; the bench holds the 1.5 s target.
      assert.ok(auto.firstSoundMs < 3000, `first sound after ${auto.firstSoundMs} ms`);
      assert.ok(auto.downBytes < message.audio.size, `the small file's start cost ${auto.downBytes} bytes, the original is ${message.audio.size}`);
    } finally {
      await link.close();
    }
  });
});
