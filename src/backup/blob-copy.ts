/**
 * The stored files' half of a backup: every blob as a file named by its key in a folder, and
 * back. Copies go through the store's own reads and writes, so the same code serves the local
 * disk and S3; every file is written whole (temporary name, fsync, rename).
 */
import { createWriteStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../domain/storage/ports.js';

export interface CopyCount {
  files: number;
  bytes: number;
}

async function writeBlob(store: BlobStore, key: string, file: string): Promise<number> {
  const temporary = `${file}.copying`;
  const out = createWriteStream(temporary, { flags: 'w' });
  await pipeline(store.openRead(key), out);
  const handle = await fs.open(temporary, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
  return (await fs.stat(file)).size;
}

/**
 * Copies the store's blobs into `dir`: those not there yet, and those written at or after
 * `changedSince` (an upload on the local disk is written in place, so a copy taken earlier may
 * lack bytes recorded since). A blob deleted while the copy runs is skipped.
 */
export async function copyBlobsOut(store: BlobStore, dir: string, changedSince = Infinity): Promise<CopyCount> {
  await fs.mkdir(dir, { recursive: true });
  const count: CopyCount = { files: 0, bytes: 0 };
  for await (const blob of store.listBlobs()) {
    const file = path.join(dir, blob.key);
    if (existsSync(file) && blob.modifiedAt < changedSince) continue;
    try {
      count.bytes += await writeBlob(store, blob.key, file);
      count.files += 1;
    } catch (error) {
      await fs.rm(`${file}.copying`, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const handle = await fs.open(dir, 'r');
  await handle.sync();
  await handle.close();
  return count;
}

/** Puts every blob of `dir` that the store lacks into it; never replaces or deletes one. */
export async function copyBlobsIn(store: BlobStore, dir: string): Promise<CopyCount & { present: number }> {
  const present = new Set<string>();
  for await (const blob of store.listBlobs()) present.add(blob.key);
  const count = { files: 0, bytes: 0, present: 0 };
  for (const name of await fs.readdir(dir)) {
    if (!/^[0-9a-f-]{36}$/.test(name)) continue;
    if (present.has(name)) {
      count.present += 1;
      continue;
    }
    const file = path.join(dir, name);
    await store.importBlob(name, file);
    count.files += 1;
    count.bytes += (await fs.stat(file)).size;
  }
  return count;
}
