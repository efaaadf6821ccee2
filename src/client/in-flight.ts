/** Chunks sent in parallel: at most `limit` in flight; the first to fail for good stops the rest. */
export class InFlight {
  private readonly limit: number;
  private readonly stop: AbortController;

  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;

  constructor(
    limit: number,
    stop: AbortController,
  ) {
    this.limit = limit;
    this.stop = stop;
  }

  /** Resolves when another chunk may start; throws the first failure. */
  async slot(): Promise<void> {
    while (this.failure === null && this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }

  start(work: Promise<void>): void {
    const tracked = work.then(
      () => void this.running.delete(tracked),
      (error: unknown) => {
        this.running.delete(tracked);
        if (this.failure === null) {
          this.failure = { error };
          this.stop.abort(error);
        }
      },
    );
    this.running.add(tracked);
  }

  /** Waits for every chunk; throws the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }
}
