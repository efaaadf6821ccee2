/**
 * What the upload has learnt about its link, and what follows from it: how big a chunk should
 * be, how many should be in flight, and when a request in flight counts as stalled.
 *
 * - The rate is measured while requests are in flight: acknowledged bytes over busy time.
 * - A chunk should take about `targetMs` at that rate: long enough that headers and the
 *   server's commit are small beside it, short enough that a stall shows soon (progress is
 *   only seen when a chunk is acknowledged) and little waits in flight when a link drops.
 * - In flight: enough bytes to cover a round trip beyond the chunk being carried, so the link
 *   never idles. On a thin link that is about two chunks (more would only split it); on a fast
 *   one, where a chunk takes less than a round trip, more, up to the caller's limit.
 * - A request is stalled when the bytes the link had to carry for it (its own and those of
 *   the requests sharing the link with it) should have arrived long ago at the measured
 *   rate, plus a round trip and a margin. The margin grows when replies come late, or when a
 *   request taken for stalled turns out to have arrived after all.
 */
import type { ChunkSizing } from './chunk-sizing.js';

/** The rate assumed before anything is measured: slow on purpose, so nothing counts as stalled too soon. */
const FIRST_GUESS_BYTES_PER_SECOND = 16 * 1024;
const FIRST_GUESS_RTT_MS = 1000;
const RTT_SAMPLES = 8;
/** Busy time over which the rate is measured. */
const RATE_WINDOW_MS = 8000;
/** How much slower than measured a request may be before it counts as stalled. */
const SLACK = 1.3;
const MIN_MARGIN_MS = 500;
/** The margin to begin with: a loaded machine or a busy server answers late now and then, and it takes a few replies to see how late. */
const FIRST_MARGIN_MS = 2000;
const MAX_MARGIN_MS = 60_000;
/** What a durable commit on the server costs a chunk, beside the round trip. */
const SERVER_COMMIT_MS = 20;

export class LinkEstimate {
  private readonly samples: Array<{ busyMs: number; acked: number }> = [{ busyMs: 0, acked: 0 }];
  private busyMs = 0;
  private busySince: number | null = null;
  private inFlight = 0;
  private acked = 0;
  /** Recent small requests' times: the least of them is the round trip (others waited behind chunks, or for a handshake). */
  private readonly rttSamples: number[] = [];
  private marginMs = FIRST_MARGIN_MS;

  private readonly sizing: ChunkSizing;
  private readonly now: () => number;

  constructor(sizing: ChunkSizing, now: () => number = () => Date.now()) {
    this.sizing = sizing;
    this.now = now;
  }

  /** Bytes per second while requests are in flight, over the last few seconds of it; null until something was acknowledged. */
  get bytesPerSecond(): number | null {
    const last = this.samples[this.samples.length - 1]!;
    let first = this.samples[0]!;
    for (const sample of this.samples) if (sample.busyMs <= last.busyMs - RATE_WINDOW_MS) first = sample;
    const busy = last.busyMs - first.busyMs;
    if (busy <= 0) return null;
    return ((last.acked - first.acked) / busy) * 1000;
  }

  get roundTripMs(): number {
    return this.rttSamples.length === 0 ? FIRST_GUESS_RTT_MS : Math.min(...this.rttSamples);
  }

  /** A chunk request went out. */
  started(): void {
    this.settleBusy();
    if (this.inFlight === 0) this.busySince = this.now();
    this.inFlight += 1;
  }

  /** A chunk request ended; `acknowledged` bytes are now on the server. */
  ended(acknowledged: number): void {
    this.settleBusy();
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) {
      // A busy spell that ends idle began with a request travelling out and ends with a reply
      // travelling back: a round trip of it carried no bytes (a recording's pieces, one at a time).
      const spell = this.busyMs - (this.samples[this.samples.length - 1]?.busyMs ?? 0);
      this.busyMs -= Math.min(this.rttSamples.length > 0 ? this.roundTripMs : 0, spell / 2);
      this.busySince = null;
    }
    if (acknowledged <= 0) return;
    this.acked += acknowledged;
    this.samples.push({ busyMs: this.busyMs, acked: this.acked });
    // Older samples than the window (and one before it) say nothing more.
    while (this.samples.length > 2 && this.samples[1]!.busyMs <= this.busyMs - RATE_WINDOW_MS) this.samples.shift();
  }

  /** A small request (no body to speak of) took `ms`: a round trip, plus the server's time. */
  roundTrip(ms: number): void {
    this.rttSamples.push(ms);
    if (this.rttSamples.length > RTT_SAMPLES) this.rttSamples.shift();
  }

  /** A request stalled: the last `ms` of busy time carried nothing, and says nothing of the link's rate. */
  stalled(ms: number): void {
    this.settleBusy();
    const last = this.samples[this.samples.length - 1]!;
    this.busyMs = Math.max(last.busyMs, this.busyMs - Math.max(0, ms));
  }

  /** A request took `ms` where `expectedMs` was expected: late replies widen the margin. */
  replied(ms: number, expectedMs: number): void {
    const late = ms - expectedMs;
    if (late > this.marginMs / 2) this.marginMs = Math.min(MAX_MARGIN_MS, late * 2);
    else this.marginMs = Math.max(MIN_MARGIN_MS, this.marginMs * 0.9);
  }

  /** A request taken for stalled had in fact arrived: it was only slow. */
  falseStall(): void {
    this.marginMs = Math.min(MAX_MARGIN_MS, this.marginMs * 2);
  }

  /** Bytes for the next chunk. */
  chunkBytes(): number {
    const rate = this.bytesPerSecond;
    if (rate === null) return this.sizing.initial;
    return clamp(Math.round((rate * this.sizing.targetMs) / 1000), this.sizing.min, this.sizing.max);
  }

  /**
   * Whether another chunk should go out while `backlog` bytes sent are still on their way:
   * the link should always hold a round trip's worth beyond the chunk it is carrying, so it
   * never idles while a reply travels back and the next request travels out. Before anything
   * is measured, two chunks.
   */
  wantsMore(backlog: number, inFlight: number): boolean {
    const rate = this.bytesPerSecond;
    if (rate === null) return inFlight < 2;
    return backlog < this.wantedBacklog(rate);
  }

  /**
   * Milliseconds until the link, carrying `backlog` bytes at the measured rate, has drained to
   * where wantsMore() turns true; 0 when it is there already, null before anything is measured.
   */
  msUntilWantsMore(backlog: number): number | null {
    const rate = this.bytesPerSecond;
    if (rate === null || rate <= 0) return null;
    return Math.max(0, ((backlog - this.wantedBacklog(rate)) / rate) * 1000);
  }

  private wantedBacklog(rate: number): number {
    return (rate * (this.roundTripMs + SERVER_COMMIT_MS + this.sizing.targetMs)) / 1000;
  }

  /** Milliseconds a request may take while the link carries `bytes` for it (its own and those sharing the link). */
  expectedMs(bytes: number): number {
    const rate = this.bytesPerSecond ?? FIRST_GUESS_BYTES_PER_SECOND;
    return (bytes / rate) * 1000 * SLACK + this.roundTripMs;
  }

  /**
   * Past this long, a request that carried `bytes` counts as stalled. A round trip more than
   * expected: after a handover every request opens a new connection, whose handshake takes
   * one before its first byte goes (on EDGE, 0.6 s: more than the narrowest margin).
   */
  stallAfterMs(bytes: number): number {
    return this.expectedMs(bytes) + this.roundTripMs + this.marginMs;
  }

  /** How long a request without a body may go unanswered. */
  smallRequestTimeoutMs(): number {
    return 4 * this.roundTripMs + 2 * this.marginMs + 1000;
  }

  private settleBusy(): void {
    if (this.busySince === null) return;
    const now = this.now();
    this.busyMs += now - this.busySince;
    this.busySince = now;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
