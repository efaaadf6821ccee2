/**
 * Drives one timed upload: the file is cut into chunks that are sent in order, with
 * up to `concurrency` in flight at once (one connection each). Afterwards, outside
 * the timing, the stored bytes are checked against the source's SHA1.
 */
import http from 'node:http';
import type { SourceFile } from './source-file.js';
import type { UploadTarget } from './targets.js';

export interface UploadPlan {
  /** Bytes to upload: the first `size` bytes of the source (all of it, normally). */
  size: number;
  chunkSize: number;
  concurrency: number;
}

export interface UploadTiming {
  bytes: number;
  requests: number;
  /** From creating the upload to the reply to its last chunk. */
  seconds: number;
}

/** A keep-alive agent with one socket per chunk in flight. Destroy it after the upload. */
export function uploadAgent(concurrency: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

export async function runUpload(target: UploadTarget, source: SourceFile, plan: UploadPlan): Promise<UploadTiming> {
  if (plan.size !== source.size) throw new Error(`the plan uploads ${plan.size} bytes but the source has ${source.size}`);
  const started = process.hrtime.bigint();
  const session = await target.begin(plan.size);
  let next = 0;
  let requests = 0;
  // Each worker takes the next chunk in file order when its previous one is answered.
  const worker = async () => {
    while (next < plan.size) {
      const offset = next;
      const length = Math.min(plan.chunkSize, plan.size - offset);
      next += length;
      requests += 1;
      await session.sendChunk(offset, length);
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const stored = await session.storedSha1();
  if (stored !== source.sha1) throw new Error(`uploaded bytes do not match: server has SHA1 ${stored}, source is ${source.sha1}`);
  return { bytes: plan.size, requests, seconds };
}
