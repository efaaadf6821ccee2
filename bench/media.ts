/**
 * `npm run bench:media`: what media processing (SPEC 8) costs.
 *
 * 1. Each step on its own, in seconds of processing per minute of audio (median of 3 runs on
 *    a 3-minute 44.1 kHz stereo file): decoding, EBU R128 loudness with true peak, the 128 kbit/s
 *    MP3, the small Opus and AAC renditions, the waveform; then the one-pass job the server
 *    runs, and the two image sizes of a 3000x2000 JPEG.
 * 2. Speech (3 minutes of espeak-ng, 48 kHz mono as browsers record): the bytes per minute of
 *    each rendition, and the one pass before and after the small renditions were added (the
 *    same argument builder with the MP3 alone, then with all three; runs alternated, median of 5).
 * 3. One node (the built server as its own process) processing 1-minute clips while 4 clients
 *    upload: clips processed per minute, and upload throughput with processing running
 *    against the same load with processing unavailable (FFMPEG_PATH pointing nowhere).
 * Prints a table to paste into docs/benchmarks.md. Takes about two minutes on an idle machine;
 * `npm run bench:media -- --only speech` (or steps, load, comma-separated) runs only those parts.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { analysisKeys, FULL, THUMB } from '../src/domain/media/processing.js';
import type { MediaFileRecord } from '../src/domain/media/ports.js';
import { encodedOutputs, FfmpegAudioProcessor, passArguments, WaveformBuilder } from '../src/media/audio-renditions.js';
import { locateFfmpeg, runTool } from '../src/media/ffmpeg.js';
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
    ...encodedOutputs({ sampleRate: 44_100, channels: 2 }, SECONDS)
      .filter((output) => output.field !== 'mp3')
      .map((output): [string, () => Promise<unknown>, boolean] => [
        `${output.field === 'lowOpus' ? 'Opus, mono, 24 kbit/s voice' : 'AAC-LC, mono, about 48 kbit/s, faststart'} (small rendition)`,
        () => ffmpegTo(['-i', source, '-af', output.filter, ...output.options, '-y', path.join(work, output.fileName)]),
        true,
      ]),
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
        await storage.discard(analysisKeys(result));
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

/** espeak-ng speech of about `seconds`, resampled to 48 kHz mono FLAC (browsers record at 48 kHz). */
async function speechFile(work: string, seconds: number): Promise<string> {
  const sentence =
    'Hello, this is a voice message about the plans for the weekend. We could meet at the station around ten, then walk along the river to the old market. ' +
    'If it rains, we will take the bus instead. Let me know what you think, and call me back when you can. ';
  const wav = path.join(work, 'speech.wav');
  await run('espeak-ng', ['-w', wav, sentence.repeat(Math.ceil(seconds / 13.5))]);
  const flac = path.join(work, 'speech.flac');
  await run('ffmpeg', ['-v', 'error', '-i', wav, '-t', String(seconds), '-ar', '48000', '-ac', '1', '-c:a', 'flac', flac]);
  return flac;
}

interface SpeechResult {
  seconds: number;
  bytesPerMinute: Array<[string, number]>;
  /** Seconds of wall time and of CPU per minute of speech. */
  passBefore: { wall: number; cpu: number };
  passAfter: { wall: number; cpu: number };
}

/** Bytes per minute of each rendition of speech, and the one pass with the MP3 only and with all three. */
async function speech(work: string): Promise<SpeechResult> {
  const seconds = 180;
  const source = await speechFile(work, seconds);
  const store = await LocalDiskStore.open({ root: path.join(work, 'speech-store'), durable: false });
  const storage = new RenditionStorage(store);
  const ffmpeg = (await locateFfmpeg('ffmpeg'))!;
  const original = await storage.save([await readFile(source)], 'audio/flac', Number.MAX_SAFE_INTEGER);
  const file: MediaFileRecord = { id: 1, userId: 1, storageKey: original.storageKey, kind: 'audio', filename: 'speech.flac', contentType: 'audio/flac', size: original.size, sha1: '', audio: { codec: 'flac', duration: seconds, sampleRate: 48_000, channels: 1 }, image: null, createdAt: 0 };
  const result = await new FfmpegAudioProcessor(ffmpeg, storage, { timeoutMs: 600_000 }).analyse(file, new AbortController().signal);
  const perMinute = (bytes: number) => bytes / (result.duration / 60);
  const bytesPerMinute: Array<[string, number]> = [
    ['original (FLAC, 48 kHz mono)', perMinute(original.size)],
    ['high_mp3 (MP3 128 kbit/s)', perMinute(result.mp3.size)],
    ['low_aac (AAC-LC in MP4, mono)', perMinute(result.lowAac.size)],
    ['low_opus (Ogg Opus, mono, voice)', perMinute(result.lowOpus.size)],
    ['waveform (JSON)', perMinute(result.waveform.size)],
  ];
  await storage.discard(analysisKeys(result));
  await store.close();
  const outputs = encodedOutputs({ sampleRate: 48_000, channels: 1 }, seconds);
  const minutes = result.duration / 60;
  const pass = async (withSmall: boolean) => {
    const dir = await mkdtemp(path.join(work, 'pass-'));
    const args = passArguments(source, withSmall ? outputs : outputs.filter((output) => output.field === 'mp3'), dir, 48_000);
    const waveform = new WaveformBuilder(48_000, 480);
    const reduce = async (pcm: AsyncIterable<Buffer>) => {
      for await (const chunk of pcm) waveform.add(chunk);
    };
    // Under bash, whose `times` says the CPU its child used: wall time alone is noise on a shared machine.
    let stderr = '';
    const wall = await timed(async () => {
      stderr = await runTool({ program: 'bash', args: ['-c', '"$@"; times >&2', 'bash', ffmpeg, ...args], outputs: [null, reduce], timeoutMs: 600_000 });
    });
    await rm(dir, { recursive: true, force: true });
    const children = [...stderr.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1)!;
    const [userMin, userSec, sysMin, sysSec] = children.slice(1).map(Number) as [number, number, number, number];
    return { wall: wall / minutes, cpu: (userMin * 60 + userSec + sysMin * 60 + sysSec) / minutes };
  };
  const before: Array<{ wall: number; cpu: number }> = [];
  const after: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < 5; i += 1) {
    before.push(await pass(false));
    after.push(await pass(true));
  }
  const summary = (runs: Array<{ wall: number; cpu: number }>) => ({ wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) });
  return { seconds: result.duration, bytesPerMinute, passBefore: summary(before), passAfter: summary(after) };
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

/** `--only steps,speech,load` runs only those parts (default: all three). */
function parts(argv: string[]): Set<string> {
  const at = argv.indexOf('--only');
  const all = ['steps', 'speech', 'load'];
  if (at < 0) return new Set(all);
  const chosen = (argv[at + 1] ?? '').split(',').filter((part) => part !== '');
  const unknown = chosen.filter((part) => !all.includes(part));
  if (chosen.length === 0 || unknown.length > 0) throw new Error(`--only takes some of ${all.join(',')}`);
  return new Set(chosen);
}

async function main(): Promise<void> {
  if (!(await locateFfmpeg('ffmpeg'))) throw new Error('ffmpeg is not installed');
  const only = parts(process.argv.slice(2));
  const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
  await mkdir(tempRoot, { recursive: true });
  const work = await mkdtemp(path.join(tempRoot, 'media-'));
  try {
    let rows: Array<[string, number]> = [];
    if (only.has('steps')) {
      log(`Steps, on a ${SECONDS} s 44.1 kHz stereo FLAC (median of 3; ${os.cpus().length} cores):`);
      rows = await steps(work);
    }
    let spoken: SpeechResult | null = null;
    if (only.has('speech')) {
      log('Speech: bytes per minute of each rendition; the one pass before and after the small renditions ...');
      spoken = await speech(work);
    }
    let loaded: { withProcessing: LoadResult; without: LoadResult } | null = null;
    if (only.has('load')) {
      log('Building Trickle into .bench/dist ...');
      const serverJs = await buildTrickle(projectRoot, path.join(projectRoot, '.bench', 'dist'));
      const minute = path.join(work, 'minute.flac');
      await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=44100:duration=60', '-c:a', 'flac', minute]);
      const clipAudio = await readFile(minute);
      log('One node, 4 uploaders, 12 one-minute clips: with processing ...');
      const withProcessing = await load(serverJs, tempRoot, true, clipAudio);
      log('... and, as long, with processing unavailable ...');
      loaded = { withProcessing, without: await load(serverJs, tempRoot, false, clipAudio, withProcessing.windowMs) };
    }
    if (rows.length > 0) {
      log('\n| step | seconds per minute of audio |\n|---|---|');
      for (const [name, value] of rows) log(`| ${name} | ${value.toFixed(3)} |`);
    }
    if (spoken) {
      log(`\nSpeech (${spoken.seconds.toFixed(0)} s of espeak-ng, 48 kHz mono):\n\n| rendition | bytes per minute | kbit/s |\n|---|---|---|`);
      for (const [name, bytes] of spoken.bytesPerMinute) log(`| ${name} | ${Math.round(bytes).toLocaleString('en')} | ${((bytes * 8) / 60 / 1000).toFixed(1)} |`);
      const { passBefore: b, passAfter: a } = spoken;
      log('\nthe one pass (decode, loudness, waveform, encoders), per minute of speech, median of 5 alternated runs:\n\n| | MP3 only (before) | MP3 + Opus + AAC (after) | added |\n|---|---|---|---|');
      log(`| CPU seconds (ffmpeg) | ${b.cpu.toFixed(3)} | ${a.cpu.toFixed(3)} | +${(a.cpu - b.cpu).toFixed(3)} (×${(a.cpu / b.cpu).toFixed(2)}) |`);
      log(`| wall seconds | ${b.wall.toFixed(3)} | ${a.wall.toFixed(3)} | +${(a.wall - b.wall).toFixed(3)} (×${(a.wall / b.wall).toFixed(2)}) |`);
    }
    if (loaded) {
      const { withProcessing, without } = loaded;
      log(`\nclips processed per minute (1-minute clips, 4 uploads running): ${withProcessing.clipsPerMinute!.toFixed(1)}`);
      log(`upload throughput over ${(withProcessing.windowMs / 1000).toFixed(1)} s: ${without.uploadMBps.toFixed(1)} MiB/s without processing, ${withProcessing.uploadMBps.toFixed(1)} MiB/s with it (ratio ${(withProcessing.uploadMBps / without.uploadMBps).toFixed(2)})`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
