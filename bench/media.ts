/**
 * `npm run bench:media`: what media processing (SPEC 8) costs.
 *
 * 1. Each step on its own, in seconds of processing per minute of audio (median of 3 runs on
 *    a 3-minute 44.1 kHz stereo file): decoding, EBU R128 loudness with true peak, the 128 kbit/s
 *    MP3, the waveform; then the one-pass job the server runs, and the two image sizes of a
 *    3000x2000 JPEG.
 * 2. One node (the built server as its own process) processing 1-minute clips while 4 clients
 *    upload: clips processed per minute, and upload throughput with processing running
 *    against the same load with processing unavailable (FFMPEG_PATH pointing nowhere).
 * Prints a table to paste into docs/benchmarks.md. Takes about a minute and a half.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FULL, THUMB } from '../src/domain/media/processing.js';
import type { MediaFileRecord } from '../src/domain/ports.js';
import { FfmpegAudioProcessor, WaveformBuilder } from '../src/media/audio-renditions.js';
import { locateFfmpeg } from '../src/media/ffmpeg.js';
import { SharpImageProcessor } from '../src/media/image-renditions.js';
import { RenditionStorage } from '../src/media/rendition-storage.js';
import { LocalDiskStore } from '../src/storage/local-disk-store.js';
import { buildTrickle } from './build.js';
import { api } from './json-api.js';
import { spawnWithDataDir } from './server-process.js';

const run = promisify(execFile);
const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const SECONDS = 180;
const log = (line: string) => process.stdout.write(`${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function ffmpegTo(args: string[], onData?: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-nostats', '-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (chunk: Buffer) => onData?.(chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')} exited ${code}`))));
  });
}

async function steps(work: string): Promise<Array<[string, number]>> {
  const source = path.join(work, 'source.flac');
  // Speech-like enough for the encoders: a tone under pink noise, stereo.
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=220:sample_rate=44100:duration=${SECONDS}`, '-f', 'lavfi', '-i', `anoisesrc=d=${SECONDS}:c=pink:r=44100:a=0.05`, '-filter_complex', 'amix=inputs=2', '-ac', '2', '-c:a', 'flac', source]);
  const store = await LocalDiskStore.open({ root: path.join(work, 'store'), durable: false });
  const storage = new RenditionStorage(store);
  const file = (storageKey: string, contentType: string, audio: MediaFileRecord['audio']): MediaFileRecord => ({ id: 1, userId: 1, storageKey, kind: audio ? 'audio' : 'image', filename: 'x', contentType, size: 0, sha1: '', audio, image: null, createdAt: 0 });
  const audioKey = await storage.save([await readFile(source)], 'audio/flac', Number.MAX_SAFE_INTEGER);
  const jpegKey = await storage.save([await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer()], 'image/jpeg', Number.MAX_SAFE_INTEGER);
  const ffmpeg = (await locateFfmpeg('ffmpeg'))!;
  const audio = new FfmpegAudioProcessor(ffmpeg, storage, { timeoutMs: 600_000 });
  const images = new SharpImageProcessor(storage, 600_000);
  const perMinute = (seconds: number) => seconds / (SECONDS / 60);
  const cases: Array<[string, () => Promise<unknown>, boolean]> = [
    ['decode only', () => ffmpegTo(['-i', source, '-f', 'null', '-']), true],
    ['loudness (ebur128, true peak)', () => ffmpegTo(['-i', source, '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-']), true],
    ['MP3 128 kbit/s', () => ffmpegTo(['-i', source, '-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3', '-y', path.join(work, 'out.mp3')]), true],
    [
      'waveform (PCM to peaks in Node)',
      () => {
        const waveform = new WaveformBuilder(44_100, 441);
        return ffmpegTo(['-i', source, '-ac', '1', '-f', 's16le', 'pipe:1'], (chunk) => waveform.add(chunk)).then(() => waveform.json());
      },
      true,
    ],
    [
      'the job: all of it in one pass, stored',
      async () => {
        const result = await audio.analyse(file(audioKey.storageKey, 'audio/flac', { codec: 'flac', duration: SECONDS, sampleRate: 44_100, channels: 2 }), new AbortController().signal);
        await storage.discard([result.mp3.storageKey, result.waveform.storageKey]);
      },
      true,
    ],
    [
      'images: thumb + full of 3000x2000 JPEG (s per image)',
      async () => {
        for (const geometry of [THUMB, FULL]) await storage.discard([(await images.render(file(jpegKey.storageKey, 'image/jpeg', null), geometry)).storageKey]);
      },
      false,
    ],
  ];
  const rows: Array<[string, number]> = [];
  for (const [name, work, audioStep] of cases) {
    const times: number[] = [];
    for (let i = 0; i < 3; i += 1) times.push(await timed(work));
    rows.push([name, audioStep ? perMinute(median(times)) : median(times)]);
    log(`  ${name}: ${rows.at(-1)![1].toFixed(3)} s${audioStep ? ' per minute of audio' : ''}`);
  }
  await store.close();
  return rows;
}

interface LoadResult {
  uploadMBps: number;
  clipsPerMinute: number | null;
  windowMs: number;
}

/**
 * 4 uploaders (16 MiB attachments in 1 MiB chunks) for the whole run; 12 one-minute clips created
 * at its start. With processing the run lasts until every clip is processed; without, as long
 * as `windowMs` (the other run's length), so both count the same stretch of time.
 */
async function load(serverJs: string, tempRoot: string, processing: boolean, clipAudio: Buffer, windowMs = 0): Promise<LoadResult> {
  const server = await spawnWithDataDir(tempRoot, 'media', (dataDir, port) => ({
    name: 'Trickle',
    args: ['--max-semi-space-size=1', serverJs],
    port,
    healthPath: '/healthz',
    env: { PORT: String(port), DATA_DIR: dataDir, DURABLE_WRITES: 'false', PASSWORD_HASH_LOG2N: '10', LOG_LEVEL: 'error', MIN_FREE_BYTES: '0', MAX_OPEN_ATTACHMENTS: '10000', ...(processing ? {} : { FFMPEG_PATH: '/nonexistent/ffmpeg' }) },
  }));
  try {
    const base = server.baseUrl;
    await api(base, 'POST', '/users', null, new URLSearchParams({ 'user[username]': 'bench', 'user[email]': 'b@example.com', 'user[password]': 'secret123' }), 'application/x-www-form-urlencoded');
    const token = (await api(base, 'POST', '/oauth/token', null, new URLSearchParams({ grant_type: 'password', username: 'bench', password: 'secret123' }), 'application/x-www-form-urlencoded')).access_token;
    const chunk = randomBytes(1024 * 1024);
    let uploaded = 0;
    let stop = false;
    const uploader = async () => {
      while (!stop) {
        const id = (await api(base, 'POST', '/attachments', token, JSON.stringify({ attachment: { size: 16 * chunk.length, filename: 'x.bin' } }), 'application/json')).body.attachment.id;
        for (let i = 0; i < 16 && !stop; i += 1) {
          await api(base, 'PUT', `/attachments/${id}?attachment[chunk_offset]=${i * chunk.length}`, token, chunk, 'application/octet-stream');
          uploaded += chunk.length;
        }
        await api(base, 'DELETE', `/attachments/${id}`, token).catch(() => undefined);
      }
    };
    const started = Date.now();
    const uploaders = Array.from({ length: 4 }, uploader);
    const clips: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const form = new FormData();
      form.append('audio_clip[title]', `clip ${i}`);
      form.append('audio_clip[uploaded_data]', new Blob([clipAudio]), 'minute.flac');
      clips.push((await api(base, 'POST', '/audio_clips', token, form)).body.audio_clip.id);
    }
    let clipsPerMinute: number | null = null;
    if (processing) {
      for (;;) {
        const states = await Promise.all(clips.map(async (id) => (await api(base, 'GET', `/audio_clips/${id}`, null)).body.audio_clip.processing));
        if (states.every((state) => state === 'ready' || state === 'failed')) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      clipsPerMinute = clips.length / ((Date.now() - started) / 60_000);
    } else {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowMs - (Date.now() - started))));
    }
    const elapsed = (Date.now() - started) / 1000;
    const bytes = uploaded;
    stop = true;
    await Promise.all(uploaders);
    return { uploadMBps: bytes / 1024 / 1024 / elapsed, clipsPerMinute, windowMs: elapsed * 1000 };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  if (!(await locateFfmpeg('ffmpeg'))) throw new Error('ffmpeg is not installed');
  const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
  await mkdir(tempRoot, { recursive: true });
  const work = await mkdtemp(path.join(tempRoot, 'media-'));
  try {
    log(`Steps, on a ${SECONDS} s 44.1 kHz stereo FLAC (median of 3; ${os.cpus().length} cores):`);
    const rows = await steps(work);
    log('Building Trickle into .bench/dist ...');
    const serverJs = await buildTrickle(projectRoot, path.join(projectRoot, '.bench', 'dist'));
    const minute = path.join(work, 'minute.flac');
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=44100:duration=60', '-c:a', 'flac', minute]);
    const clipAudio = await readFile(minute);
    log('One node, 4 uploaders, 12 one-minute clips: with processing ...');
    const withProcessing = await load(serverJs, tempRoot, true, clipAudio);
    log('... and, as long, with processing unavailable ...');
    const without = await load(serverJs, tempRoot, false, clipAudio, withProcessing.windowMs);
    log('\n| step | seconds per minute of audio |\n|---|---|');
    for (const [name, value] of rows) log(`| ${name} | ${value.toFixed(3)} |`);
    log(`\nclips processed per minute (1-minute clips, 4 uploads running): ${withProcessing.clipsPerMinute!.toFixed(1)}`);
    log(`upload throughput over ${(withProcessing.windowMs / 1000).toFixed(1)} s: ${without.uploadMBps.toFixed(1)} MiB/s without processing, ${withProcessing.uploadMBps.toFixed(1)} MiB/s with it (ratio ${(withProcessing.uploadMBps / without.uploadMBps).toFixed(2)})`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
