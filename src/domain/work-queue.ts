/**
 * Work that must not pile up (resizing images): at most `concurrency` pieces run at once and
 * at most `maxWaiting` wait for a turn. A request that finds the queue full is told so at
 * once instead of waiting behind an unbounded line; a background job may wait regardless
 * (its own concurrency bounds how many do).
 */
export class WorkQueue {
  private readonly concurrency: number;
  private readonly maxWaiting: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(concurrency: number, maxWaiting: number) {
    this.concurrency = concurrency;
    this.maxWaiting = maxWaiting;
  }

  /** Pieces running and waiting right now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `work` in its turn; null, and nothing is run, when all slots are busy and `maxWaiting` wait already. */
  offer<T>(work: () => Promise<T>): Promise<T> | null {
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting) return null;
    return this.run(work);
  }

  /** Runs `work` in its turn, however many wait. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) this.running += 1;
    // A finishing piece hands its slot straight to the first waiter, so `running` stays counted.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
