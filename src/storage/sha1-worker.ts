/**
 * Worker thread of WorkerPrefixHasher: reads blob ranges and keeps running SHA1s, so
 * neither the copy out of the page cache nor the hashing runs on the request thread.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

export type HashRequest =
  | { id: number; op: 'extend'; name: string; path: string; from: number; to: number }
  | { id: number; op: 'digest'; name: string }
  | { id: number; op: 'discard'; name: string };

export type HashReply = { id: number; ok: true; hex?: string } | { id: number; ok: false; error: string };

const hashes = new Map<string, { hash: Hash; at: number }>();
const buffer = Buffer.allocUnsafe(1024 * 1024);

async function extend(name: string, path: string, from: number, to: number): Promise<void> {
  let state = hashes.get(name);
  if (!state && from === 0) hashes.set(name, (state = { hash: createHash('sha1'), at: 0 }));
  if (!state || state.at !== from) throw new Error(`hash ${name} stands at ${state?.at ?? 'nothing'}, not ${from}`);
  const file = await open(path, 'r');
  try {
    for (let position = from; position < to; ) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, to - position), position);
      if (bytesRead === 0) throw new Error(`short read at ${position} of ${path}`);
      state.hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    state.at = to;
  } finally {
    await file.close();
  }
}

async function handle(request: HashRequest): Promise<HashReply> {
  try {
    if (request.op === 'extend') {
      await extend(request.name, request.path, request.from, request.to);
      return { id: request.id, ok: true };
    }
    if (request.op === 'digest') {
      const state = hashes.get(request.name);
      return { id: request.id, ok: true, hex: (state?.hash ?? createHash('sha1')).copy().digest('hex') };
    }
    hashes.delete(request.name);
    return { id: request.id, ok: true };
  } catch (error) {
    return { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

// One request at a time, in order: an extend and a digest of one hash must not interleave.
let queue = Promise.resolve();
parentPort?.on('message', (request: HashRequest) => {
  queue = queue.then(async () => parentPort!.postMessage(await handle(request)));
});
