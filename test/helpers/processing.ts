/** Media processing tests: real audio made with espeak-ng and ffmpeg, and ffmpeg's own measurements. */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from './client.js';

const run = promisify(execFile);

/** Why tests that need ffmpeg (and espeak-ng) skip here, or undefined when they run. */
export function mediaToolsMissing(): string | undefined {
  for (const tool of ['ffmpeg', 'ffprobe', 'espeak-ng']) {
    if (spawnSync(tool, [tool === 'espeak-ng' ? '--version' : '-version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed (bash scripts/ci-apt.sh)`;
  }
  return undefined;
}

async function ffmpeg(args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  const { stdout, stderr } = await run('ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 });
  return { stdout, stderr: stderr.toString() };
}

/** Speech from espeak-ng (22.05 kHz mono WAV), and the same audio in every accepted format. */
export async function makeSpeech(dir: string, text: string): Promise<Record<string, string>> {
  const wav = path.join(dir, 'speech.wav');
  await run('espeak-ng', ['-w', wav, text]);
  const files: Record<string, string> = { wav };
  const encode = async (name: string, args: string[]) => {
    files[name] = path.join(dir, name);
    await ffmpeg(['-i', wav, ...args, files[name]]);
  };
  await encode('speech.flac', ['-c:a', 'flac']);
  await encode('speech.mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']);
  await encode('speech.ogg', ['-ar', '44100', '-ac', '2', '-c:a', 'libvorbis']);
  await encode('speech.opus', ['-c:a', 'libopus', '-b:a', '24k']);
  await encode('speech.m4a', ['-ar', '44100', '-c:a', 'aac', '-b:a', '64k']);
  // As browsers record it: a live WebM stream, no duration in the header.
  await encode('speech.webm', ['-c:a', 'libopus', '-b:a', '24k', '-live', '1', '-f', 'webm']);
  return files;
}

export interface Reference {
  /** Seconds, from the decoded samples. */
  duration: number;
  integratedLufs: number;
  truePeakDbtp: number | null;
}

/** What ffmpeg itself measures for a file: decoded length, EBU R128 loudness and true peak. */
export async function measure(file: string): Promise<Reference> {
  const { stdout } = await ffmpeg(['-v', 'error', '-i', file, '-ac', '1', '-ar', '48000', '-f', 's16le', 'pipe:1']);
  const { stderr } = await ffmpeg(['-nostats', '-i', file, '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-']);
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const peak = /Peak:\s+(-?[0-9.]+|-inf) dBFS/.exec(summary)![1]!;
  return {
    duration: stdout.length / 2 / 48000,
    integratedLufs: Number(/I:\s+(-?[0-9.]+) LUFS/.exec(summary)![1]),
    truePeakDbtp: peak === '-inf' ? null : Number(peak),
  };
}

export async function ffprobe(file: string): Promise<{ format: Record<string, string>; streams: Array<Record<string, string | number>> }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file]);
  return JSON.parse(stdout);
}

/** Polls a clip or message until its processing is finished; resolves its view. */
export async function waitProcessed(base: string, detail: string, token: string | undefined, timeoutMs = 60_000): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- views are checked field by field
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await request(base, 'GET', detail, token ? { token } : {});
    const view = reply.json?.body?.audio_clip ?? reply.json?.body?.message;
    if (!view) throw new Error(`GET ${detail}: ${reply.status} ${reply.text}`);
    if (view.processing === 'ready' || view.processing === 'failed' || view.processing === 'unavailable') return view;
    if (Date.now() > deadline) throw new Error(`${detail} still ${view.processing} after ${timeoutMs} ms`);
    await delay(100);
  }
}

/** A PNG whose header claims width x height pixels, with a tiny (wrong) body: for hostile-input tests. */
export function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(2, 9); // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
