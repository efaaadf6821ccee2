/**
 * Drives one timed upload: the file is cut into chunks that are sent in file order
 * (or in a shuffled order), with up to `concurrency` in flight at once (one connection
 * each). Afterwards, outside the timing, the stored bytes are checked against the
 * source's SHA1.
 */
import http from 'node:http';
import type { SourceFile } from './source-file.js';
import type { UploadSession, UploadTarget } from './targets.js';

export type ChunkOrder = 'in-order' | 'shuffled';

export interface UploadPlan {
  /** Bytes to upload: the first `size` bytes of the source (all of it, normally). */
  size: number;
  chunkSize: number;
  concurrency: number;
  /** Default in-order. */
  order?: ChunkOrder;
}

export interface ChunkTimings {
  requests: number;
  /** Latency of every chunk request, in the order their replies came: the last one completed the upload. */
  latenciesMs: number[];
}

export interface UploadTiming extends ChunkTimings {
  bytes: number;
  /** From creating the upload to the reply to its last chunk. */
  seconds: number;
}

/** A keep-alive agent with one socket per request in flight. Destroy it after the upload. */
export function uploadAgent(concurrency: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

export function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

/**
 * Offsets of the chunks in the order they are sent. The shuffle is seeded, so every
 * run and every server sees the same order and their figures stay comparable.
 */
export function chunkOffsets(size: number, chunkSize: number, order: ChunkOrder): number[] {
  const offsets = Array.from({ length: Math.ceil(size / chunkSize) }, (_, i) => i * chunkSize);
  if (order === 'in-order') return offsets;
  let seed = 0x9e3779b9;
  // xorshift32: any fixed pseudo-random sequence will do.
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  for (let i = offsets.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [offsets[i], offsets[j]] = [offsets[j]!, offsets[i]!];
  }
  return offsets;
}

/** Sends every chunk of the plan through an open session; each worker takes the next chunk when its previous one is answered. */
export async function sendChunks(session: UploadSession, plan: UploadPlan): Promise<ChunkTimings> {
  const offsets = chunkOffsets(plan.size, plan.chunkSize, plan.order ?? 'in-order');
  const latenciesMs: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < offsets.length) {
      const offset = offsets[next]!;
      next += 1;
      const sent = process.hrtime.bigint();
      await session.sendChunk(offset, Math.min(plan.chunkSize, plan.size - offset));
      latenciesMs.push(elapsedMs(sent));
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  return { requests: offsets.length, latenciesMs };
}

/** Checks, outside any timing, that the server stored exactly the source's bytes. */
export async function verifyStored(session: UploadSession, source: SourceFile): Promise<void> {
  const stored = await session.storedSha1();
  if (stored !== source.sha1) throw new Error(`uploaded bytes do not match: server has SHA1 ${stored}, source is ${source.sha1}`);
}

export async function runUpload(target: UploadTarget, source: SourceFile, plan: UploadPlan): Promise<UploadTiming> {
  if (plan.size !== source.size) throw new Error(`the plan uploads ${plan.size} bytes but the source has ${source.size}`);
  const started = process.hrtime.bigint();
  const session = await target.begin(plan.size);
  const chunks = await sendChunks(session, plan);
  const seconds = elapsedMs(started) / 1000;
  await verifyStored(session, source);
  return { bytes: plan.size, seconds, ...chunks };
}
