/**
 * Exclusive locks on byte regions of one attachment, held by writers while their
 * bytes are on the way to disk and by the hasher while it reads.
 *
 * A writer's hold only grows upward from its offset, and a hold that waits never
 * waits for a region below its own, so waits cannot form a cycle.
 */
export class RegionHold {
  start = 0;
  end = 0;
}

interface Waiter {
  hold: RegionHold;
  start: number;
  end: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RegionLocks {
  private readonly holds = new Set<RegionHold>();
  private waiters: Waiter[] = [];

  get idle(): boolean {
    return this.holds.size === 0 && this.waiters.length === 0;
  }

  /**
   * Extends `hold` to also cover [start, end), waiting while another hold overlaps it.
   * A hold that is empty jumps to [start, end); otherwise start must be its end.
   */
  acquire(hold: RegionHold, start: number, end: number, signal?: AbortSignal): Promise<void> {
    if (this.isFree(hold, start, end)) {
      this.grant(hold, start, end);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { hold, start, end, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        if (signal.aborted) return reject(signal.reason);
        waiter.onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(hold: RegionHold): void {
    if (!this.holds.delete(hold)) return;
    hold.start = hold.end = 0;
    this.wakeWaiters();
  }

  private isFree(self: RegionHold, start: number, end: number): boolean {
    for (const other of this.holds) {
      if (other !== self && other.start < end && start < other.end) return false;
    }
    return true;
  }

  private grant(hold: RegionHold, start: number, end: number): void {
    if (this.holds.has(hold)) {
      hold.end = Math.max(hold.end, end);
    } else {
      hold.start = start;
      hold.end = end;
      this.holds.add(hold);
    }
  }

  private wakeWaiters(): void {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.isFree(waiter.hold, waiter.start, waiter.end)) {
        this.grant(waiter.hold, waiter.start, waiter.end);
        if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }
}
