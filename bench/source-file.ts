/**
 * The bytes that get uploaded: a file of random bytes (so nothing along the way can
 * compress or deduplicate it), made once and reused across runs, with its SHA1.
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
  const filePath = path.join(dir, `source-${size}.bin`);
  const existing = await stat(filePath).catch(() => null);
  if (existing?.size !== size) await generate(filePath, size);
  // Hashed on every run rather than cached: a stale cached digest would make every check lie.
  return { path: filePath, size, sha1: await sha1OfFile(filePath) };
}
