/**
 * `npm run bench:image-hints`: the image_size_hint attack of issue 22 item 4, on the built
 * server in its own process. Four public clips share one 7000x7000 PNG (made here with
 * sharp); 8 anonymous clients, each from its own address (X-Forwarded-For, TRUST_PROXY on),
 * ask `GET /audio_clips?page[items]=4&image_size_hint[a..e]=<random geometry>` in a loop while
 * a probe times `/healthz` on a fresh connection every 250 ms. Prints the server's peak and
 * sampled resident memory, the /healthz latencies, the server's CPU per attack request, how
 * the requests were answered, and the image sizes stored per image at the end.
 *
 * The bench and its clients run at niceness 10 (at least), the server at 0 where allowed.
 * ATTACK_SECONDS (default 60) sets the length of the attack; ATTACK_IMAGE_SIDE (default 7000) the
 * PNG's side; IMAGE_* settings, FFMPEG_PATH and MALLOC_ARENA_MAX are passed to the server.
 * Takes about two minutes with the defaults.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { locateFfmpeg } from '../src/media/ffmpeg.js';
import { buildTrickle } from './build.js';
import { api } from './json-api.js';
import { readCpuSeconds, spawnWithDataDir } from './server-process.js';

const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const ATTACK_SECONDS = Number(process.env.ATTACK_SECONDS ?? 60);
const SIDE = Number(process.env.ATTACK_IMAGE_SIDE ?? 7000);
const CLIENTS = 8;
const log = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

/** A smooth 7000x7000 gradient with a little texture: small on disk, a full 49-megapixel decode every time. */
async function bigPng(side: number): Promise<Buffer> {
  const seed = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
  return sharp(seed).resize(side, side, { kernel: 'cubic' }).png({ compressionLevel: 9 }).toBuffer();
}

/** A GET, resolving its status and milliseconds; without an agent on its own connection, as a monitor would. */
function timedGet(url: string, headers: Record<string, string> = {}, timeoutMs = 120_000, agent: http.Agent | false = false): Promise<{ status: number; ms: number; body: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const request = http.get(url, { agent, headers, timeout: timeoutMs }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6, body: Buffer.concat(parts).toString() }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6, body: '' }));
  });
}

function randomHint(): string {
  const side = () => 1 + Math.floor(Math.random() * 2048);
  const mode = ['', '%3C', '/c'][Math.floor(Math.random() * 3)];
  return `${side()}x${side()}${mode}`;
}

/**
 * The bench and its clients run at a low priority (a shared machine); the server and the
 * /healthz probe at the ordinary one, as in production, where the attackers are elsewhere.
 * Resolves the process's niceness.
 */
function serverPriority(pid: number): number {
  // Every thread (Linux keeps a niceness per thread; later ones inherit their creator's).
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    try {
      os.setPriority(Number(thread), 0);
    } catch {
      // Not allowed to raise it back: the server stays as low as the bench.
    }
  }
  return os.getPriority(pid);
}

async function main(): Promise<void> {
  os.setPriority(Math.max(os.getPriority(), 10));
  if (!(await locateFfmpeg('ffmpeg'))) throw new Error('ffmpeg is not installed (the background job makes thumb and full)');
  const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
  await mkdir(tempRoot, { recursive: true });
  log('Building Trickle into .bench/image-hints ...');
  const serverJs = await buildTrickle(projectRoot, path.join(projectRoot, '.bench', 'image-hints'));
  const png = await bigPng(SIDE);
  log(`PNG: ${SIDE}x${SIDE}, ${mb(png.length)} (${png.length} bytes)`);
  const work = await mkdtemp(path.join(tempRoot, 'image-hints-'));
  const server = await spawnWithDataDir(work, 'image-hints', (dataDir, port) => ({
    name: 'Trickle',
    args: ['--max-semi-space-size=1', serverJs],
    port,
    healthPath: '/healthz',
    // As `npm start` runs it: MALLOC_ARENA_MAX=2 unless given (0 is glibc's default, 8 per core).
    env: { PORT: String(port), DATA_DIR: dataDir, DURABLE_WRITES: 'false', PASSWORD_HASH_LOG2N: '10', LOG_LEVEL: 'error', MIN_FREE_BYTES: '0', TRUST_PROXY: 'true', MALLOC_ARENA_MAX: '2', ...pick(process.env, /^(IMAGE_|MALLOC_ARENA_MAX$|FFMPEG_PATH$)/) },
  }));
  try {
    const base = server.baseUrl;
    const niceness = serverPriority(server.pid);
    await api(base, 'POST', '/users', null, new URLSearchParams({ 'user[username]': 'bench', 'user[email]': 'b@example.com', 'user[password]': 'secret123' }), 'application/x-www-form-urlencoded');
    const token = (await api(base, 'POST', '/oauth/token', null, new URLSearchParams({ grant_type: 'password', username: 'bench', password: 'secret123' }), 'application/x-www-form-urlencoded')).access_token;
    const tone = await readFile(path.join(projectRoot, 'test', 'fixtures', 'tone.wav'));
    const clips: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const form = new FormData();
      form.append('audio_clip[title]', `clip ${i}`);
      form.append('audio_clip[uploaded_data]', new Blob([tone]), 'tone.wav');
      form.append('audio_clip[uploaded_image]', new Blob([png], { type: 'image/png' }), 'big.png');
      clips.push((await api(base, 'POST', '/audio_clips', token, form)).body.audio_clip.urls.detail);
    }
    log(`4 clips created; RSS ${mb(await currentRss(server.pid))}, peak ${mb(await peakRss(server.pid))}`);
    for (const detail of clips) {
      for (let state = ''; state !== 'ready' && state !== 'unavailable'; await sleep(200)) {
        state = (await api(base, 'GET', detail, null)).body.audio_clip.processing;
        if (state === 'failed') throw new Error(`${detail} failed processing`);
      }
    }
    log(`4 clips processed; RSS ${mb(await currentRss(server.pid))}, peak ${mb(await peakRss(server.pid))}`);

    // The machine's own noise: /healthz of the idle server, probed as during the floods.
    const idle = (await probeHealth(base, 10_000)).map((probe) => probe.ms);
    log(`Control: ${CLIENTS} clients ask the same pages without image_size_hint for ${ATTACK_SECONDS} s ...`);
    const control = await flood(base, server.pid, false);
    log(`Attack: ${CLIENTS} clients, 5 random hints per request, for ${ATTACK_SECONDS} s ...`);
    const attack = await flood(base, server.pid, true);
    const peak = await peakRss(server.pid);

    const exposition = (await timedGet(`${base}/metrics`)).body.split('\n');
    const metrics = exposition
      .filter((line) => /^trickle_image_/.test(line))
      .map((line) => line.replace(/^trickle_image_/, ''))
      .join(', ');
    const db = new Database(path.join(server.dataDir, 'trickle.sqlite'), { readonly: true });
    const perImage = db.prepare('select image_file_id, count(*) as sizes from image_renditions group by image_file_id').all() as Array<{ image_file_id: number; sizes: number }>;
    db.close();

    const ms = (value: number) => `${value.toFixed(value < 100 ? 1 : 0)} ms`;
    const latencies = (values: number[]) => `median ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}, max ${ms(Math.max(...values))}`;
    log('');
    log(`${SIDE}x${SIDE} PNG (${mb(png.length)}) on 4 clips; ${CLIENTS} clients from 8 addresses (niceness ${os.getPriority()}), the server at niceness ${niceness}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}; server peak RSS over the whole run (VmHWM) ${mb(peak)}`);
    log(`/healthz of the idle server: ${latencies(idle)} (${idle.length} probes)`);
    log('');
    log(`| figure | control: no hints | attack: 5 random hints |`);
    log(`|---|---|---|`);
    log(`| requests answered | ${control.summary.requests} (${control.summary.ok} 200), ${(control.summary.requests / control.seconds).toFixed(1)}/s | ${attack.summary.requests} (${attack.summary.ok} 200), ${(attack.summary.requests / attack.seconds).toFixed(1)}/s |`);
    log(`| request time | ${latencies(control.summary.times)} | ${latencies(attack.summary.times)} |`);
    log(`| hinted sizes in the answers | - | ${attack.summary.made} with a URL, ${attack.summary.missing} null |`);
    const cpu = (run: Flood) => `${((run.cpu / Math.max(1, run.summary.requests)) * 1000).toFixed(0)} ms (${run.cpu.toFixed(1)} s in all, ${((run.cpu / run.seconds) * 100).toFixed(0)}% of one core)`;
    log(`| server CPU per request | ${cpu(control)} | ${cpu(attack)} |`);
    log(`| server RSS, sampled | median ${mb(percentile(control.rss, 50))}, max ${mb(Math.max(...control.rss))} | median ${mb(percentile(attack.rss, 50))}, max ${mb(Math.max(...attack.rss))} |`);
    log(`| /healthz | ${latencies(control.health)} (${control.health.length} probes, ${control.healthFailures} failed) | ${latencies(attack.health)} (${attack.health.length} probes, ${attack.healthFailures} failed) |`);
    const within = (run: Flood) => `${run.serverHealth.within100} of ${run.serverHealth.count}`;
    log(`| /healthz answered within 100 ms as the server times it (from its request to its answer) | ${within(control)} | ${within(attack)} |`);
    const loop = (run: Flood) => `p99 ${ms(run.loopDelay.p99)}, max ${ms(run.loopDelay.max)}`;
    log(`| server event loop delay | ${loop(control)} | ${loop(attack)} |`);
    log(`| /healthz, slowest of each 10 s | ${control.healthByTen.map((v) => v.toFixed(0)).join(', ')} ms | ${attack.healthByTen.map((v) => v.toFixed(0)).join(', ')} ms |`);
    log('');
    log(`image renditions stored per image (thumb, full, master, on-demand): ${perImage.map((row) => row.sizes).join(', ')}`);
    log(`image metrics: ${metrics || 'none'}`);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

interface Flood {
  seconds: number;
  cpu: number;
  /** /healthz answers timed by the server itself (its request metric): within 100 ms, and in all. */
  serverHealth: { within100: number; count: number };
  /** The server's event loop delay over the flood (its `nodejs_eventloop_lag_*`, reset by every scrape), ms. */
  loopDelay: { p99: number; max: number };
  summary: { requests: number; ok: number; made: number; missing: number; times: number[] };
  health: number[];
  healthByTen: number[];
  healthFailures: number;
  rss: number[];
}

/** CLIENTS clients asking for pages in a loop for ATTACK_SECONDS, with random hints or none, while /healthz and RSS are sampled every 250 ms. */
async function flood(base: string, pid: number, hinted: boolean): Promise<Flood> {
  const healthBefore = await serverHealth(base);
  const cpuBefore = await readCpuSeconds(pid);
  const started = Date.now();
  const deadline = started + ATTACK_SECONDS * 1000;
  const summary = { requests: 0, ok: 0, made: 0, missing: 0, times: [] as number[] };
  const names = ['a', 'b', 'c', 'd', 'e'];
  const client = async (index: number) => {
    // Each client keeps its connection, as a script in a loop would.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (Date.now() < deadline) {
      const hints = hinted ? '&' + names.map((name) => `image_size_hint[${name}]=${randomHint()}`).join('&') : '';
      const reply = await timedGet(`${base}/audio_clips?page[items]=4${hints}`, { 'x-forwarded-for': `10.0.0.${index + 1}` }, 120_000, agent);
      summary.requests += 1;
      summary.times.push(reply.ms);
      if (reply.status !== 200) continue;
      summary.ok += 1;
      if (!hinted) continue;
      for (const clip of JSON.parse(reply.body).body.audio_clips) {
        for (const name of names) {
          if (clip.urls.images[name]) summary.made += 1;
          else summary.missing += 1;
        }
      }
    }
    agent.destroy();
  };
  const run: Flood = { seconds: 0, cpu: 0, serverHealth: { within100: 0, count: 0 }, loopDelay: { p99: 0, max: 0 }, summary, health: [], healthByTen: [], healthFailures: 0, rss: [] };
  const sampleRss = async () => {
    while (Date.now() < deadline) {
      run.rss.push(await currentRss(pid));
      await sleep(250);
    }
  };
  const [probes] = await Promise.all([probeHealth(base, ATTACK_SECONDS * 1000), sampleRss(), ...Array.from({ length: CLIENTS }, (_, i) => client(i))]);
  for (const { status, ms, at } of probes) {
    const tenth = Math.floor((at - started) / 10_000);
    run.healthByTen[tenth] = Math.max(run.healthByTen[tenth] ?? 0, ms);
    if (status === 200) run.health.push(ms);
    else run.healthFailures += 1;
  }
  run.seconds = (Date.now() - started) / 1000;
  run.cpu = (await readCpuSeconds(pid)) - cpuBefore;
  const healthAfter = await serverHealth(base);
  run.serverHealth = { within100: healthAfter.within100 - healthBefore.within100, count: healthAfter.count - healthBefore.count };
  run.loopDelay = healthAfter.loopDelay;
  return run;
}

/** The /healthz probe: a process of its own at the server's priority, so the bench's load does not delay it. */
const PROBE = `
const http = require('node:http');
const url = process.argv[1];
const until = Date.now() + Number(process.argv[2]);
const once = () => new Promise((resolve) => {
  const started = process.hrtime.bigint();
  const done = (status) => resolve({ status, ms: Number(process.hrtime.bigint() - started) / 1e6, at: Date.now() });
  const request = http.get(url, { agent: false, timeout: 10000 }, (response) => {
    response.resume();
    response.on('end', () => done(response.statusCode));
  });
  request.on('timeout', () => request.destroy());
  request.on('error', () => done(0));
});
(async () => {
  const out = [];
  while (Date.now() < until) {
    out.push(await once());
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

/** Probes /healthz on a fresh connection every 250 ms for `ms` (as a monitor would). */
async function probeHealth(base: string, ms: number): Promise<Array<{ status: number; ms: number; at: number }>> {
  const child = spawn(process.execPath, ['-e', PROBE, `${base}/healthz`, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
  serverPriority(child.pid!);
  let out = '';
  child.stdout.on('data', (data: Buffer) => (out += data.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return JSON.parse(out) as Array<{ status: number; ms: number; at: number }>;
}

/** The server's own count of /healthz answers (200) within 100 ms and in all, and its event loop delay since the last scrape, from /metrics. */
async function serverHealth(base: string): Promise<{ within100: number; count: number; loopDelay: { p99: number; max: number } }> {
  const text = (await timedGet(`${base}/metrics`)).body;
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    loopDelay: { p99: value(/^nodejs_eventloop_lag_p99_seconds (\S+)/m) * 1000, max: value(/^nodejs_eventloop_lag_max_seconds (\S+)/m) * 1000 },
    within100: value(/^trickle_http_request_duration_seconds_bucket\{le="0\.1",[^}]*route="\/healthz",status="200"\} (\d+)/m),
    count: value(/^trickle_http_request_duration_seconds_count\{[^}]*route="\/healthz",status="200"\} (\d+)/m),
  };
}

function pick(env: NodeJS.ProcessEnv, pattern: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => pattern.test(entry[0]) && entry[1] !== undefined));
}

async function status(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : NaN;
}
const peakRss = (pid: number) => status(pid, 'VmHWM');
const currentRss = (pid: number) => status(pid, 'VmRSS');

await main();
