/**
 * The bytes that get uploaded: a valid WAV file whose samples are random bytes (so
 * nothing along the way can compress or deduplicate it, and Trickle accepts it as the
 * audio of a clip), made once and reused across runs, with its SHA1.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import path from 'node:path';

export interface SourceFile {
  path: string;
  size: number;
  sha1: string;
}

const BLOCK = 8 * 1024 * 1024;

/** Bytes before the samples in a canonical PCM WAV file. */
export const WAV_HEADER_BYTES = 44;

/**
 * The 44-byte header of a 16-bit stereo 44.1 kHz PCM WAV file whose sample data is
 * `dataLength` bytes: any bytes after it are valid samples, which is all a prober checks.
 */
export function wavHeader(dataLength: number): Buffer {
  if (dataLength < 1 || dataLength > 0xffff_ffff - 36) throw new Error(`a WAV file cannot hold ${dataLength} bytes of samples`);
  const channels = 2;
  const sampleRate = 44_100;
  const blockAlign = channels * 2;
  const header = Buffer.alloc(WAV_HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataLength, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk length
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * blockAlign, 28); // bytes per second
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataLength, 40);
  return header;
}

/** A whole WAV file of `size` bytes in memory, for small uploads. */
export function wavBytes(size: number): Buffer {
  const samples = Buffer.allocUnsafe(size - WAV_HEADER_BYTES);
  randomFillSync(samples);
  return Buffer.concat([wavHeader(samples.length), samples]);
}

/** SHA1 of a file (or its first `length` bytes), streamed so memory stays flat. */
export async function sha1OfFile(filePath: string, length?: number): Promise<string> {
  const hash = createHash('sha1');
  const stream = createReadStream(filePath, { highWaterMark: 1024 * 1024, ...(length !== undefined ? { end: length - 1 } : {}) });
  for await (const piece of stream as AsyncIterable<Buffer>) hash.update(piece);
  return hash.digest('hex');
}

async function generate(filePath: string, size: number): Promise<void> {
  // Write beside the target and rename, so an interrupted run never leaves a short file to reuse.
  const partial = `${filePath}.partial`;
  const file = await open(partial, 'w');
  try {
    const block = Buffer.allocUnsafe(BLOCK);
    for (let written = 0; written < size; ) {
      const length = Math.min(BLOCK, size - written);
      randomFillSync(block, 0, length);
      if (written === 0) wavHeader(size - WAV_HEADER_BYTES).copy(block);
      let done = 0;
      while (done < length) done += (await file.write(block, done, length - done, written + done)).bytesWritten;
      written += length;
    }
  } finally {
    await file.close();
  }
  await rename(partial, filePath);
}

/** The source file of `size` bytes in `dir`, generated if it is not there yet. */
export async function ensureSourceFile(dir: string, size: number): Promise<SourceFile> {
  await mkdir(dir, { recursive: true });
  if (size <= WAV_HEADER_BYTES) throw new Error(`a source file must be larger than its ${WAV_HEADER_BYTES}-byte WAV header`);
  const filePath = path.join(dir, `source-${size}.wav`);
  const existing = await stat(filePath).catch(() => null);
  if (existing?.size !== size) await generate(filePath, size);
  // Hashed on every run rather than cached: a stale cached digest would make every check lie.
  return { path: filePath, size, sha1: await sha1OfFile(filePath) };
}
