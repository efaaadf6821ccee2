/**
 * Worker thread of WorkerPrefixHasher: reads blob ranges and keeps running SHA1s, so
 * neither the copy out of the page cache nor the hashing runs on the request thread.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export type HashRequest =
  | { id: number; op: 'extend'; name: string; path: string; from: number; to: number }
  | { id: number; op: 'digest'; name: string }
  | { id: number; op: 'discard'; name: string };

export type HashReply = { id: number; ok: true; hex?: string } | { id: number; ok: false; error: string };

const hashes = new Map<string, { hash: Hash; at: number }>();
const buffer = Buffer.allocUnsafe(1024 * 1024);

/**
 * Descriptors of the files being hashed, kept open between steps (an upload in small chunks
 * is hashed in many steps), least recently used first; closed beyond a few, and when their
 * hash is discarded. Blob paths are never reused, so an open descriptor names the right file.
 */
const MAX_OPEN = 32;
const descriptors = new Map<string, number>();

function descriptor(path: string): number {
  let fd = descriptors.get(path);
  if (fd === undefined) {
    fd = openSync(path, 'r');
    if (descriptors.size >= MAX_OPEN) closeDescriptor(descriptors.keys().next().value!);
  } else {
    descriptors.delete(path);
  }
  descriptors.set(path, fd);
  return fd;
}

function closeDescriptor(path: string): void {
  const fd = descriptors.get(path);
  if (fd === undefined) return;
  descriptors.delete(path);
  try {
    closeSync(fd);
  } catch {
    // already gone
  }
}

/** The path each hash reads, so that discarding the hash closes its descriptor. */
const pathOf = new Map<string, string>();

/**
 * Reads with synchronous calls: this thread exists for this work, and blocking it costs
 * nothing, while asynchronous reads would bounce every step through libuv's thread pool.
 */
function extend(name: string, path: string, from: number, to: number): void {
  let state = hashes.get(name);
  if (!state && from === 0) hashes.set(name, (state = { hash: createHash('sha1'), at: 0 }));
  if (!state || state.at !== from) throw new Error(`hash ${name} stands at ${state?.at ?? 'nothing'}, not ${from}`);
  pathOf.set(name, path);
  const fd = descriptor(path);
  try {
    for (let position = from; position < to; ) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, to - position), position);
      if (bytesRead === 0) throw new Error(`short read at ${position} of ${path}`);
      state.hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    state.at = to;
  } catch (error) {
    closeDescriptor(path);
    throw error;
  }
}

function discard(name: string): void {
  hashes.delete(name);
  const path = pathOf.get(name);
  pathOf.delete(name);
  if (path !== undefined && ![...pathOf.values()].includes(path)) closeDescriptor(path);
}

function handle(request: HashRequest): HashReply {
  try {
    if (request.op === 'extend') {
      extend(request.name, request.path, request.from, request.to);
      return { id: request.id, ok: true };
    }
    if (request.op === 'digest') {
      const state = hashes.get(request.name);
      return { id: request.id, ok: true, hex: (state?.hash ?? createHash('sha1')).copy().digest('hex') };
    }
    discard(request.name);
    return { id: request.id, ok: true };
  } catch (error) {
    return { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

// One request at a time, in order (each runs to its end): an extend and a digest of one hash never interleave.
parentPort?.on('message', (request: HashRequest) => parentPort!.postMessage(handle(request)));
