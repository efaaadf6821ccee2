/**
 * `npm run bench:listen`: the web app as a listener on a phone's link feels it, in Chromium
 * through the link emulator (test/helpers/link-emulator.ts), against the built server with
 * media processing on.
 *
 * 1. First sound: a one-minute voice message (espeak-ng speech as Chromium records it, WebM/Opus
 *    at 128 kbit/s) played from its conversation: the time from the press of Play to the first
 *    frame its position has moved, for the original, the MP3, the small Opus and AAC files, and
 *    the page's own choice ("auto"), on a 3G-class link and an EDGE-class one (the rates and
 *    round trips of bench:links' links, without outages). Median of --runs fresh browsers.
 * 2. First render: a fresh browser (nothing cached) opening the page, signed in: the first
 *    contentful paint and the conversations on screen, on the same links.
 * 3. The page's scripts and styles: bytes as served and gzip-compressed.
 *
 *   npm run bench:listen -- [--runs 3] [--only first-sound,first-render,size]
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { buildForBrowser, chromiumMissing, launchChromium, speechWav } from '../test/helpers/browser.js';
import { newUser, request } from '../test/helpers/client.js';
import { LinkEmulator, type LinkProfile } from '../test/helpers/link-emulator.js';
import { waitProcessed } from '../test/helpers/processing.js';
import { firstSound, recordedLikeABrowser, type PlayChoice } from '../test/helpers/web-links.js';
import { buildTrickle } from './build.js';
import { median } from './links/recording.js';
import { linkScenarios } from './links/scenarios.js';
import { formatBytes, formatColumns, writeJson } from './report.js';
import { startTrickle } from './trickle-server.js';

const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
const log = (line: string) => process.stdout.write(`${line}\n`);
const CHOICES: PlayChoice[] = ['original', 'high_mp3', 'low_opus', 'low_aac', 'auto'];
const TITLE = 'A minute of speech';

/** The links listened on: bench:links' 3G and EDGE rates and delays, with no outages (the start of playback is what is timed). */
function links(): Array<{ name: string; title: string; profile: LinkProfile }> {
  const byName = new Map(linkScenarios().map((s) => [s.name, s]));
  const calm = (name: string, title: string) => ({ name, title, profile: { ...byName.get(name)!.profile, outages: [] } });
  return [calm('3g', '3G: 2 Mbit/s down, 200 ms RTT'), calm('edge', 'EDGE: 400 kbit/s down, 600 ms RTT')];
}

function parseArgs(argv: string[]): { runs: number; only: string[] } {
  const options = { runs: 3, only: [] as string[] };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--runs') options.runs = Number(argv[++i]);
    else if (argv[i] === '--only') options.only.push(...argv[++i]!.split(','));
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return options;
}

interface FirstRender {
  link: string;
  paintMs: number;
  conversationsMs: number;
  downBytes: number;
}

/** A fresh browser context, signed in already (the session in localStorage), opening the page. */
async function firstRender(browser: Browser, link: LinkEmulator, session: { token: string; id: number; username: string }): Promise<Omit<FirstRender, 'link'>> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await context.addInitScript((saved) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('trickle.session', saved), JSON.stringify(session));
  try {
    const page = await context.newPage();
    link.restart();
    await page.goto(`${link.url}/#/messages`);
    await page.locator('#conversations li').first().waitFor({ timeout: 60_000 });
    const times = await page.evaluate(() => {
      const perf = (globalThis as unknown as { performance: { getEntriesByName(name: string): Array<{ startTime: number }>; now(): number } }).performance;
      return { paint: perf.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN, now: perf.now() };
    });
    return { paintMs: times.paint, conversationsMs: times.now, downBytes: link.stats.downBytes };
  } finally {
    await context.close();
  }
}

/** Every script and style the page loads (the service worker's too), as served and gzipped. */
async function pageWeight(base: string): Promise<Array<{ path: string; bytes: number; gzip: number }>> {
  const paths = new Set<string>(['/app/sw.js', '/app/style.css']);
  const html = await (await fetch(`${base}/`)).text();
  for (const match of html.matchAll(/(?:src|href)="(\/app\/[^"]+\.(?:js|css))"/g)) paths.add(match[1]!);
  // Follow the modules' imports: relative, and the import map's two names.
  const queue = [...paths];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (!file.endsWith('.js')) continue;
    const code = await (await fetch(`${base}${file}`)).text();
    for (const match of code.matchAll(/(?:import|export)\s*(?:[^'"]*?from\s*)?['"]([^'"]+)['"]|import\(\s*[`'"]([^`'"$]+)/g)) {
      const spec = match[1] ?? match[2]!;
      const resolved =
        spec === 'trickle-audio-client'
          ? '/app/client/index.js'
          : spec.startsWith('trickle-audio-client/')
            ? `/app/client/${spec.slice('trickle-audio-client/'.length)}`
            : spec.startsWith('@noble/hashes/')
              ? `/app/vendor/${spec}`
              : new URL(spec, `http://x${file}`).pathname;
      if (!paths.has(resolved)) {
        paths.add(resolved);
        queue.push(resolved);
      }
    }
  }
  const files = [];
  for (const file of [...paths].sort()) {
    const body = Buffer.from(await (await fetch(`${base}${file}`)).arrayBuffer());
    files.push({ path: file, bytes: body.length, gzip: gzipSync(body, { level: 6 }).length });
  }
  return files;
}

async function main(): Promise<number> {
  if (chromiumMissing) throw new Error(chromiumMissing);
  const options = parseArgs(process.argv.slice(2));
  const wanted = (part: string) => options.only.length === 0 || options.only.includes(part);
  await mkdir(tempRoot, { recursive: true });
  const dir = await mkdtemp(path.join(tempRoot, 'listen-'));
  buildForBrowser();
  log('Building Trickle into .bench/listen/dist ...');
  const serverJs = await buildTrickle(projectRoot, path.join(projectRoot, '.bench', 'listen', 'dist'));
  const server = await startTrickle({ serverJs, durable: true, maxAttachmentSize: 64 * 1024 * 1024, tempRoot, cpuProfile: null, env: { LOG_LEVEL: 'error' } });
  const browser = await launchChromium(null);
  const startedAt = new Date();
  const sounds: Array<{ link: string; choice: PlayChoice; played: string; runs: number[]; downBytes: number; fileBytes: number }> = [];
  const renders: FirstRender[] = [];
  let weight: Awaited<ReturnType<typeof pageWeight>> = [];
  try {
    const [listener, speaker] = [await newUser(server.baseUrl, 'listener'), await newUser(server.baseUrl, 'speaker')];
    const webm = path.join(dir, 'minute.webm');
    const wav = speechWav(dir, 60);
    if (!wav) throw new Error('espeak-ng and sox are needed for the speech');
    recordedLikeABrowser(wav, webm);
    const sent = await request(server.baseUrl, 'POST', '/account/outbox', {
      token: speaker.token,
      multipart: [['message[recipient_id]', String(listener.id)], ['message[title]', TITLE], ['message[uploaded_data]', await readFile(webm), 'minute.webm']],
    });
    if (sent.status !== 201) throw new Error(`sending the message: ${sent.status} ${sent.text}`);
    const message = await waitProcessed(server.baseUrl, `/account/messages/${sent.json.body.message.id}`, listener.token, 120_000);
    if (message.processing !== 'ready') throw new Error(`processing: ${message.processing}`);
    const sizes: Record<string, number> = { original: message.audio.size };
    for (const kind of ['high_mp3', 'low_opus', 'low_aac']) {
      const head = await fetch(`${server.baseUrl}${message.urls[kind]}`, { method: 'HEAD', headers: { authorization: `Bearer ${listener.token}` } });
      sizes[kind] = Number(head.headers.get('content-length'));
    }
    for (const { name, title, profile } of links()) {
      const link = await LinkEmulator.start(server.baseUrl, profile);
      try {
        if (wanted('first-sound')) {
          for (const choice of CHOICES) {
            const runs = [];
            let last = null;
            for (let run = 0; run < options.runs; run += 1) {
              last = await firstSound(browser, link, { username: listener.username, sender: speaker.username, title: TITLE, choice });
              runs.push(last.firstSoundMs);
            }
            sounds.push({ link: title, choice, played: last!.played, runs, downBytes: last!.downBytes, fileBytes: sizes[last!.played] ?? NaN });
            log(`${name} ${choice} (${last!.played}): first sound ${runs.join(', ')} ms`);
          }
        }
        if (wanted('first-render')) {
          const runs: Array<Omit<FirstRender, 'link'>> = [];
          for (let run = 0; run < options.runs; run += 1) runs.push(await firstRender(browser, link, { token: listener.token, id: listener.id, username: listener.username }));
          const pick = (key: 'paintMs' | 'conversationsMs') => median(runs.map((r) => r[key]));
          renders.push({ link: title, paintMs: pick('paintMs'), conversationsMs: pick('conversationsMs'), downBytes: runs[0]!.downBytes });
          log(`${name} first render: ${runs.map((r) => `${r.paintMs.toFixed(0)}/${r.conversationsMs.toFixed(0)}`).join(', ')} ms`);
        }
      } finally {
        await link.close();
      }
    }
    if (wanted('size')) weight = await pageWeight(server.baseUrl);
  } finally {
    await browser.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }

  await writeJson(path.join(projectRoot, '.bench', 'listen-results.json'), { date: startedAt.toISOString(), sounds, renders, weight });
  log(`\n${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, Node ${process.version}, ${startedAt.toISOString()}; median of ${options.runs} fresh browsers each\n`);
  if (sounds.length > 0) {
    log('First sound of a one-minute voice message, from the press of Play:\n');
    const label: Record<string, string> = { original: 'original (WebM/Opus 128 kbit/s)', high_mp3: 'MP3 128 kbit/s', low_opus: 'small Opus', low_aac: 'small AAC', auto: 'the page\'s choice' };
    log(formatColumns(['link', 'file', 'size', 'first sound', 'runs (ms)', 'bytes down by then'], sounds.map((s) => [s.link, s.choice === 'auto' ? `${label.auto}: ${label[s.played] ?? s.played}` : label[s.choice]!, formatBytes(s.fileBytes), `${(median(s.runs) / 1000).toFixed(2)} s`, s.runs.join(', '), formatBytes(s.downBytes)]), new Set([2, 3, 5])));
  }
  if (renders.length > 0) {
    log('\nFirst render, a fresh browser opening the page signed in:\n');
    log(formatColumns(['link', 'first contentful paint', 'conversations on screen', 'bytes down'], renders.map((r) => [r.link, `${(r.paintMs / 1000).toFixed(2)} s`, `${(r.conversationsMs / 1000).toFixed(2)} s`, formatBytes(r.downBytes)]), new Set([1, 2, 3])));
  }
  if (weight.length > 0) {
    const total = weight.reduce((sum, f) => ({ bytes: sum.bytes + f.bytes, gzip: sum.gzip + f.gzip }), { bytes: 0, gzip: 0 });
    log(`\nThe page's scripts and styles: ${weight.length} files, ${formatBytes(total.bytes)} as served, ${formatBytes(total.gzip)} gzip-compressed (budget 150 KB).`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:listen: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
