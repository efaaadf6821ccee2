/**
 * `npm run bench:image-hints`: the image_size_hint attack of issue 22 item 4, on the built
 * server in its own process. Four public clips share one 7000x7000 PNG (made here with
 * sharp); 8 anonymous clients, each from its own address (X-Forwarded-For, TRUST_PROXY on),
 * ask `GET /audio_clips?page[items]=4&image_size_hint[a..e]=<random geometry>` in a loop while
 * a probe times `/healthz` on a fresh connection every 250 ms. Prints the server's peak and
 * sampled resident memory, the /healthz latencies, the server's CPU per attack request, how
 * the requests were answered, and the image sizes stored per image at the end.
 *
 * ATTACK_SECONDS (default 60) sets the length of the attack; ATTACK_IMAGE_SIDE (default 7000) the
 * PNG's side. Takes about a minute and a half with the defaults.
 */
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

/** A GET on its own connection (as a monitor would), resolving its status and milliseconds. */
function timedGet(url: string, headers: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ status: number; ms: number; body: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, headers, timeout: timeoutMs }, (response) => {
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

async function main(): Promise<void> {
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
    env: { PORT: String(port), DATA_DIR: dataDir, DURABLE_WRITES: 'false', PASSWORD_HASH_LOG2N: '10', LOG_LEVEL: 'error', MIN_FREE_BYTES: '0', TRUST_PROXY: 'true', ...pick(process.env, /^IMAGE_/) },
  }));
  try {
    const base = server.baseUrl;
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
    for (const detail of clips) {
      for (let state = ''; state !== 'ready'; await sleep(200)) {
        state = (await api(base, 'GET', detail, null)).body.audio_clip.processing;
        if (state === 'failed') throw new Error(`${detail} failed processing`);
      }
    }
    log(`4 clips ready; RSS peak so far ${mb(await peakRss(server.pid))}; attacking with ${CLIENTS} clients for ${ATTACK_SECONDS} s ...`);

    const cpuBefore = await readCpuSeconds(server.pid);
    const deadline = Date.now() + ATTACK_SECONDS * 1000;
    const answers = { requests: 0, ok: 0, other: 0, made: 0, missing: 0, times: [] as number[] };
    const attacker = async (client: number) => {
      while (Date.now() < deadline) {
        const hints = ['a', 'b', 'c', 'd', 'e'].map((name) => `image_size_hint[${name}]=${randomHint()}`).join('&');
        const reply = await timedGet(`${base}/audio_clips?page[items]=4&${hints}`, { 'x-forwarded-for': `10.0.0.${client + 1}` });
        answers.requests += 1;
        answers.times.push(reply.ms);
        if (reply.status !== 200) {
          answers.other += 1;
          continue;
        }
        answers.ok += 1;
        for (const clip of JSON.parse(reply.body).body.audio_clips) {
          for (const name of ['a', 'b', 'c', 'd', 'e']) {
            if (clip.urls.images[name]) answers.made += 1;
            else answers.missing += 1;
          }
        }
      }
    };
    const health: number[] = [];
    let healthFailures = 0;
    const rss: number[] = [];
    const probe = async () => {
      while (Date.now() < deadline) {
        const reply = await timedGet(`${base}/healthz`, {}, 10_000);
        if (reply.status === 200) health.push(reply.ms);
        else healthFailures += 1;
        rss.push(await currentRss(server.pid));
        await sleep(250);
      }
    };
    const started = Date.now();
    await Promise.all([probe(), ...Array.from({ length: CLIENTS }, (_, i) => attacker(i))]);
    const seconds = (Date.now() - started) / 1000;
    const cpu = (await readCpuSeconds(server.pid)) - cpuBefore;
    const peak = await peakRss(server.pid);

    const db = new Database(path.join(server.dataDir, 'trickle.sqlite'), { readonly: true });
    const perImage = db.prepare('select image_file_id, count(*) as sizes from image_renditions group by image_file_id').all() as Array<{ image_file_id: number; sizes: number }>;
    db.close();

    log('');
    log(`| figure | value |`);
    log(`|---|---|`);
    log(`| attack | ${CLIENTS} clients, ${seconds.toFixed(0)} s, ${SIDE}x${SIDE} PNG on 4 clips, 5 random hints per request |`);
    log(`| requests answered | ${answers.requests} (${answers.ok} 200, ${answers.other} other), ${(answers.requests / seconds).toFixed(1)}/s |`);
    log(`| request time | median ${percentile(answers.times, 50).toFixed(0)} ms, p99 ${percentile(answers.times, 99).toFixed(0)} ms, max ${Math.max(...answers.times).toFixed(0)} ms |`);
    log(`| hinted sizes in the answers | ${answers.made} with a URL, ${answers.missing} null |`);
    log(`| server CPU per attack request | ${((cpu / Math.max(1, answers.requests)) * 1000).toFixed(0)} ms (${cpu.toFixed(1)} s in all, ${((cpu / seconds) * 100).toFixed(0)}% of one core) |`);
    log(`| server RSS | peak (VmHWM) ${mb(peak)}; sampled median ${mb(percentile(rss, 50))}, max ${mb(Math.max(...rss))} |`);
    log(`| /healthz | median ${percentile(health, 50).toFixed(1)} ms, p99 ${percentile(health, 99).toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms (${health.length} probes, ${healthFailures} failed) |`);
    log(`| image sizes stored per image (with thumb and full) | ${perImage.map((row) => row.sizes).join(', ')} |`);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
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
