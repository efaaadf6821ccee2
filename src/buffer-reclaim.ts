/**
 * Socket reads land in fresh 64 KiB ArrayBuffers. With hundreds of uploads at once, their
 * buffers die soon after their bytes are written, but V8 frees the ones that reached the old
 * generation only once external memory has grown by its fixed 64 MiB slack. Here a full
 * collection runs as soon as array buffers have grown by RECLAIM_STEP since the last one:
 * 500 uploads of 64 KiB chunks at once peaked at 211-216 MiB with it and 230-236 MiB without
 * (docs/benchmarks.md, issue 27). At most one collection per RECLAIM_STEP of buffers allocated.
 * (One client streaming a big file no longer needs it: its buffers were kept alive by the
 * receiver, fixed in in-place-receiver.ts, and now die young.) Raw, tus and IETF bodies written
 * in place are released as soon as they are written (releaseBodyPiece), so this now fires for
 * the buffers that are not: multipart file parts and pieces bound for object storage.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

const RECLAIM_STEP = 16 * 1024 * 1024;
const CHECK_EVERY_MS = 50;

type Collect = (options: { type: 'major' }) => void;

export class BufferReclaimer {
  private readonly step: number;
  private readonly collect: Collect;
  /** Array buffer bytes right after the last collection (or at the start). */
  private after: number;

  constructor(step = RECLAIM_STEP) {
    this.step = step;
    // The collector is exposed to contexts made from now on; one is made only to take it.
    v8.setFlagsFromString('--expose-gc');
    this.collect = vm.runInNewContext('gc') as Collect;
    this.after = process.memoryUsage().arrayBuffers;
  }

  /** Collects when array buffers have grown by a step since the last collection; true when it did. */
  check(): boolean {
    if (process.memoryUsage().arrayBuffers <= this.after + this.step) return false;
    this.collect({ type: 'major' });
    this.after = process.memoryUsage().arrayBuffers;
    return true;
  }
}

/** Checks every CHECK_EVERY_MS for as long as the process runs; the timer never keeps it alive. */
export function reclaimSocketBuffers(): void {
  const reclaimer = new BufferReclaimer();
  setInterval(() => reclaimer.check(), CHECK_EVERY_MS).unref();
}
