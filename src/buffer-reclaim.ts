/**
 * Socket reads land in fresh 64 KiB ArrayBuffers. An upload's bytes go on to storage and their
 * buffers die at once, but the objects holding them are tiny, so no young-generation collection
 * comes soon and V8 frees them only once external memory has grown by its fixed 64 MiB slack:
 * one client streaming a big file kept about 60 MiB of dead buffers (peak RSS 193 MiB against
 * 133 MiB for a 10 MiB file). Here a full collection runs as soon as array buffers have grown by
 * RECLAIM_STEP since the last one: peak 145 MiB for a 128 MiB file against 133 MiB for 10 MiB,
 * with no CPU cost beyond the bench's noise (docs/benchmarks.md, issue 27). At most one
 * collection per RECLAIM_STEP of buffers allocated.
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

/** Checks every CHECK_EVERY_MS; the returned function stops it. The timer never keeps the process alive. */
export function reclaimSocketBuffers(): () => void {
  const reclaimer = new BufferReclaimer();
  const timer = setInterval(() => reclaimer.check(), CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
