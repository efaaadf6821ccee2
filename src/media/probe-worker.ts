/**
 * Worker thread of IsolatedProber: runs one probe at a time, with a budget of bytes it may
 * read. The probe is the only code in this thread, so counting at FileHandle.read counts
 * exactly what it reads; past the budget every read fails and the probe gives up (a file
 * that makes a parser re-read the same bytes over and over is not audio worth the time).
 */
import { open, stat } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import type { AudioInfo, ImageInfo } from '../domain/media/ports.js';
import { probeAudio, probeImage } from './prober.js';

export type ProbeRequest = { id: number; kind: 'audio' | 'image'; path: string };
export type ProbeReply = { id: number; info: AudioInfo | ImageInfo | null; readBytes: number } | { ready: true };

/** Bytes a probe may read: twice the file and a little more; a real probe reads far less. */
export function readBudget(fileSize: number): number {
  return 2 * fileSize + 1024 * 1024;
}

class ReadBudgetExceeded extends Error {}

let budget = Infinity;
let readBytes = 0;

async function countReads(): Promise<void> {
  const sample = await open(import.meta.filename, 'r');
  const prototype = Object.getPrototypeOf(sample) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
  await sample.close();
  const read = prototype.read;
  prototype.read = async function (this: unknown, ...args: unknown[]) {
    if (readBytes > budget) throw new ReadBudgetExceeded(`the probe read more than ${budget} bytes`);
    const result = await read.apply(this, args);
    readBytes += result.bytesRead;
    return result;
  };
}

async function probe(request: ProbeRequest): Promise<ProbeReply> {
  readBytes = 0;
  try {
    budget = readBudget((await stat(request.path)).size);
    const info = request.kind === 'audio' ? await probeAudio(request.path) : await probeImage(request.path);
    return { id: request.id, info: readBytes > budget ? null : info, readBytes };
  } catch {
    // Missing, unreadable, over budget or not parseable: not a supported file.
    return { id: request.id, info: null, readBytes };
  } finally {
    budget = Infinity;
  }
}

await countReads();
parentPort!.on('message', (request: ProbeRequest) => {
  void probe(request).then((reply) => parentPort!.postMessage(reply));
});
parentPort!.postMessage({ ready: true } satisfies ProbeReply);
