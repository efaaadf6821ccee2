/**
 * Exclusive locks on byte regions of one attachment, held by writers while their
 * bytes are on the way to disk and by the hasher while it reads.
 *
 * A writer's hold only grows upward from its offset, and a hold that waits never
 * waits for a region below its own, so waits cannot form a cycle.
 *
 * A writer whose bytes have stopped coming is cut off when another request needs its
 * region: a connection gone silent (a lost NAT mapping) never says so, and its client has
 * long since sent the bytes again on a new one, which would otherwise wait for the idle
 * timeout. What the stale writer wrote is kept, as for any cut request.
 */
export class RegionHold {
  start = 0;
  end = 0;
  /** Since when (ms) its writer has waited for bytes that have not come; null while bytes flow or are being written. */
  waitingForBytesSince: number | null = null;
  /** Cuts its writer off; set by writers that can be cut. */
  cut: (() => void) | null = null;
}

/** How long a writer may wait for its next bytes before a request that needs its region cuts it off. */
export const STALE_WRITER_MS = 1000;
/** How often waiting requests look for stale writers in their way. */
const STALE_CHECK_MS = 250;

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
  private staleCheck: ReturnType<typeof setInterval> | null = null;
  private readonly staleAfterMs: number;

  constructor(staleAfterMs = STALE_WRITER_MS) {
    this.staleAfterMs = staleAfterMs;
  }

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
          this.watchStaleWriters();
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.cutStaleWriters();
      this.watchStaleWriters();
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

  /** Cuts off writers that wait for bytes in vain while another request waits for their region. */
  private cutStaleWriters(): void {
    const now = Date.now();
    for (const hold of this.holds) {
      const since = hold.waitingForBytesSince;
      if (hold.cut === null || since === null || now - since < this.staleAfterMs) continue;
      if (!this.waiters.some((w) => w.hold !== hold && hold.start < w.end && w.start < hold.end)) continue;
      const cut = hold.cut;
      hold.cut = null;
      cut();
    }
  }

  /** Looks again now and then while requests wait; the timer ends with the last waiter. */
  private watchStaleWriters(): void {
    if (this.waiters.length > 0 && this.staleCheck === null) {
      this.staleCheck = setInterval(() => this.cutStaleWriters(), STALE_CHECK_MS);
      this.staleCheck.unref();
    } else if (this.waiters.length === 0 && this.staleCheck !== null) {
      clearInterval(this.staleCheck);
      this.staleCheck = null;
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
    this.watchStaleWriters();
  }
}
