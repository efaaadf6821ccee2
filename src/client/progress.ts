/** Upload progress: bytes the server acknowledged, the recent rate, the time left at that rate, and what the upload waits for. */
import type { WaitingFor } from './retry.js';

export type UploadState = 'sending' | 'waiting for network' | 'waiting for server';

export interface UploadProgress {
  /** Bytes the server holds (acknowledged), including those it had before a resume. */
  acknowledgedBytes: number;
  /** The file's size; for a growing source, the bytes read from it so far (final once it has ended). */
  totalBytes: number;
  /** Over the last few seconds; 0 until there is something to measure. */
  bytesPerSecond: number;
  /** Seconds left at the current rate; null while unknown. */
  etaSeconds: number | null;
  /** `sending`, or between tries: `waiting for network` (offline, a handover) or `waiting for server` (5xx, 429). */
  state: UploadState;
  /** While waiting: when the next try goes out (ms since the epoch); else null. */
  nextTryAt: number | null;
}

/** A sliding window keeps the rate current on networks whose speed changes. */
export class ProgressMeter {
  private total: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  private readonly samples: Array<{ at: number; bytes: number }> = [];
  private acknowledged: number;
  /** False while a growing source may still deliver more: no ETA then. */
  private totalKnown = true;
  private state: UploadState = 'sending';
  private nextTryAt: number | null = null;

  constructor(
    total: number,
    alreadyAcknowledged: number,
    windowMs = 5000,
    now: () => number = () => Date.now(),
  ) {
    this.total = total;
    this.windowMs = windowMs;
    this.now = now;
    this.acknowledged = alreadyAcknowledged;
    this.samples.push({ at: this.now(), bytes: alreadyAcknowledged });
  }

  /** The server now holds `acknowledged` bytes; it never goes back. */
  update(acknowledged: number): UploadProgress {
    this.acknowledged = Math.min(this.total, Math.max(this.acknowledged, acknowledged));
    const at = this.now();
    this.samples.push({ at, bytes: this.acknowledged });
    // Forget what is older than the window, but keep two samples to measure between.
    while (this.samples.length > 2 && (this.samples[0]?.at ?? at) < at - this.windowMs) this.samples.shift();
    return this.snapshot();
  }

  /** A growing source has delivered `total` bytes so far; `ended` once it has no more. */
  grow(total: number, ended: boolean): UploadProgress {
    this.total = Math.max(this.total, total);
    this.totalKnown = ended;
    return this.snapshot();
  }

  /** Tries have failed; the next goes out at `nextTryAt`. */
  waiting(waitingFor: WaitingFor, nextTryAt: number): UploadProgress {
    this.state = waitingFor === 'network' ? 'waiting for network' : 'waiting for server';
    this.nextTryAt = nextTryAt;
    return this.snapshot();
  }

  /** Requests are answered again. */
  sending(): UploadProgress {
    this.state = 'sending';
    this.nextTryAt = null;
    return this.snapshot();
  }

  snapshot(): UploadProgress {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const elapsed = first && last ? (last.at - first.at) / 1000 : 0;
    const rate = first && last && elapsed > 0 ? (last.bytes - first.bytes) / elapsed : 0;
    const left = this.total - this.acknowledged;
    return {
      acknowledgedBytes: this.acknowledged,
      totalBytes: this.total,
      bytesPerSecond: rate,
      etaSeconds: !this.totalKnown ? null : left === 0 ? 0 : rate > 0 ? left / rate : null,
      state: this.state,
      nextTryAt: this.nextTryAt,
    };
  }
}
