/**
 * Counts events per key (a client address) in fixed one-minute windows. Only the current
 * window's keys are held, so memory follows the clients of the last minute, not all time.
 */
import type { Clock } from './clock.js';

const WINDOW_MS = 60_000;

export class PerMinuteRate {
  private readonly perMinute: number;
  private readonly clock: Clock;
  private window = -1;
  private readonly counts = new Map<string, number>();

  /** `perMinute` 0: no limit. */
  constructor(perMinute: number, clock: Clock) {
    this.perMinute = perMinute;
    this.clock = clock;
  }

  /** Counts one event for `key`; false (and not counted) when `key` has had `perMinute` this window. */
  take(key: string): boolean {
    if (this.perMinute === 0) return true;
    const window = Math.floor(this.clock.now() / WINDOW_MS);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const used = this.counts.get(key) ?? 0;
    if (used >= this.perMinute) return false;
    this.counts.set(key, used + 1);
    return true;
  }
}
