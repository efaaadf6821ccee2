/**
 * Sends an upload's chunks, several in flight, until the server has acknowledged every one.
 *
 * - How many are in flight and how big each is follow the link (link-estimate.ts).
 * - A request counts as stalled when its reply is late for what the link had to carry; it is
 *   abandoned (a connection gone silent never says so).
 * - A request that failed (cut, reset, stalled, 5xx) leaves its range uncertain: part of it
 *   may have arrived. Once the network answers again the server is asked what it holds
 *   (`GET /attachments/:id`), and only what it lacks of those ranges is sent again. New chunks
 *   keep going meanwhile, so the link is not idle while the answer is on its way.
 * - A range whose request stalled may still be held on the server by that silent request; it
 *   is tried again with a small probe first, and backs off while probes stall too.
 */
import { covers, lacking } from './byte-ranges.js';
import { TrickleApiError, TrickleTimeoutError } from './errors.js';
import type { UploadSession } from './upload-session.js';
import type { ByteRange } from './types.js';

/** A chunk to send: new bytes from the feed, or bytes sent before that the server lacks. */
export interface Chunk {
  start: number;
  bytes: Uint8Array;
}

/** Where new chunks come from: a file walked in order, or a recording as it grows. */
export interface ChunkFeed {
  /** The next chunk not sent before, of at most `maxBytes`; null when none is ready now. */
  next(maxBytes: number): Promise<Chunk | null>;
  /** True once next() will never give more. */
  readonly exhausted: boolean;
  /** Resolves when next() may have something new, or the feed is exhausted. */
  whenReady(): Promise<void>;
  /** Bytes [start, end) again, to resend what the server lacks. */
  reread(start: number, end: number): Promise<Uint8Array>;
}

interface Flight {
  start: number;
  end: number;
  startedAt: number;
  /** Bytes the link carries before this reply can come: those ahead of it, its own, and half as much again for chunks sent after it that share the link. */
  carried: number;
  /** Bytes acknowledged meanwhile for chunks sent after it: on a shared link it should arrive long before they add up to a few times its size. */
  overtaken: number;
  /** A probe of a range that stalled before: does not count towards the chunks in flight. */
  probe: boolean;
  controller: AbortController;
  stalled: boolean;
}

interface Uncertain {
  start: number;
  end: number;
  stalled: boolean;
}

interface Resend {
  start: number;
  end: number;
  /** Not before this time (ms since the epoch): a range held by a silent request waits. */
  notBefore: number;
  /** Sent as a small probe first: its last request stalled. */
  probe: boolean;
}

/** A probe is small: a range held by a silent request on the server costs little to try. */
const PROBE_BYTES = 1024;
/** Garbled chunks in a row (chunk_checksum_mismatch) before the upload gives up. */
const MAX_MISMATCHES = 5;
const MAX_HOLD_MS = 30_000;
/** Overtaking by a few packets' worth proves nothing. */
const OVERTAKE_SLACK = 16 * 1024;

export class ChunkPipeline {
  /** Chunk bytes put on the wire, resends included. */
  bytesSent = 0;
  private readonly flights = new Set<Flight>();
  private resends: Resend[] = [];
  private uncertain: Uncertain[] = [];
  private resync: Promise<void> | null = null;
  private failure: { error: unknown } | null = null;
  /** Stalls in a row per range start: how long a range held by a silent request waits. */
  private readonly stalls = new Map<number, number>();
  private mismatches = 0;
  private lastAcknowledgedAt = 0;
  /** See backlog(). */
  private queued = 0;
  private queuedAt = 0;
  private wake: () => void = () => undefined;
  private readonly session: UploadSession;

  /** Fixes the attachment's size with the chunk that ends there (a growing source that has ended). */
  private readonly sizeToFix: () => number | null;
  private readonly onChunkAcknowledged?: (range: ByteRange) => void;

  constructor(
    session: UploadSession,
    sizeToFix: () => number | null = () => null,
    onChunkAcknowledged?: (range: ByteRange) => void,
  ) {
    this.session = session;
    this.sizeToFix = sizeToFix;
    this.onChunkAcknowledged = onChunkAcknowledged;
  }

  /** Ranges the server lacks after all (e.g. lost to a server crash): sent again by the next run(). */
  resend(ranges: readonly ByteRange[]): void {
    for (const [start, end] of ranges) this.queueResend({ start, end, notBefore: 0, probe: false });
  }

  /** Sends the feed's chunks and every resend, until the server has acknowledged them all. */
  async run(feed: ChunkFeed): Promise<void> {
    const { stop } = this.session;
    const aborted = new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    for (;;) {
      if (this.failure) throw this.failure.error;
      if (stop.signal.aborted) throw stop.signal.reason;
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      const starved = await this.fill(feed);
      if (this.failure) continue;
      if (feed.exhausted && this.flights.size === 0 && this.resends.length === 0 && this.uncertain.length === 0 && this.resync === null) return;
      const waits: Array<Promise<unknown>> = [woken, aborted];
      if (starved) waits.push(feed.whenReady());
      const checkIn = this.nextCheckIn();
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (checkIn !== null) waits.push(new Promise((resolve) => (timer = setTimeout(resolve, checkIn))));
      await Promise.race(waits);
      clearTimeout(timer);
      this.abandonStalled();
    }
  }

  /** Room for another chunk: as many as the link wants, but one at a time until a try after a failure is answered. */
  private hasRoom(): boolean {
    const regular = this.regularFlights();
    if (this.session.gate.waitingFor !== null) return regular < 1;
    return regular < this.session.concurrencyLimit && this.session.estimate.wantsMore(this.backlog(), regular);
  }

  /** Chunks in flight, probes of stalled ranges aside. */
  private regularFlights(): number {
    return [...this.flights].filter((f) => !f.probe).length;
  }

  /**
   * Bytes sent that the link has not carried yet, as far as the measured rate tells: what was
   * launched, drained at the rate since, and never more than the chunks still in flight.
   */
  private backlog(): number {
    const now = Date.now();
    const rate = this.session.estimate.bytesPerSecond;
    const inFlight = [...this.flights].reduce((sum, f) => sum + (f.end - f.start), 0);
    this.queued = Math.min(inFlight, Math.max(0, this.queued - (rate === null ? 0 : ((now - this.queuedAt) * rate) / 1000)));
    this.queuedAt = now;
    return this.queued;
  }

  /** Starts chunks while there is room, the gate is open and there is something to send; true when the feed had nothing ready. */
  private async fill(feed: ChunkFeed): Promise<boolean> {
    const { estimate, gate } = this.session;
    for (;;) {
      if (this.failure || this.session.stop.signal.aborted || !gate.open) return false;
      const now = Date.now();
      const dueIndex = this.resends.findIndex((r) => r.notBefore <= now);
      const due = dueIndex < 0 ? undefined : this.resends[dueIndex]!;
      if (due?.probe && ![...this.flights].some((f) => f.probe)) {
        this.resends.splice(dueIndex, 1);
        const end = Math.min(due.end, due.start + PROBE_BYTES);
        if (end < due.end) this.queueResend({ ...due, start: end, probe: false });
        this.launch({ start: due.start, bytes: await feed.reread(due.start, end) }, true);
        continue;
      }
      if (!this.hasRoom()) return false;
      const size = estimate.chunkBytes();
      if (due && !due.probe) {
        const end = Math.min(due.end, due.start + size);
        if (end < due.end) this.resends[dueIndex] = { ...due, start: end };
        else this.resends.splice(dueIndex, 1);
        this.launch({ start: due.start, bytes: await feed.reread(due.start, end) }, false);
        continue;
      }
      if (feed.exhausted) return false;
      const chunk = await feed.next(size);
      if (chunk === null) return !feed.exhausted;
      this.launch(chunk, false);
    }
  }

  private launch(chunk: Chunk, probe: boolean): void {
    const { session } = this;
    const length = chunk.bytes.byteLength;
    // Its reply comes once the link has carried what is ahead of it and its own bytes (and, as
    // chunks sent later share the link with it, some more).
    const ahead = this.backlog();
    this.queued += length;
    const flight: Flight = {
      start: chunk.start,
      end: chunk.start + length,
      startedAt: Date.now(),
      carried: ahead + 1.5 * length,
      overtaken: 0,
      probe,
      controller: new AbortController(),
      stalled: false,
    };
    this.flights.add(flight);
    this.bytesSent += length;
    session.estimate.started();
    void this.fly(flight, chunk.bytes).finally(() => {
      this.flights.delete(flight);
      this.wake();
    });
  }

  private async fly(flight: Flight, bytes: Uint8Array): Promise<void> {
    const { session } = this;
    const hash = session.sha1();
    hash.update(bytes);
    const size = this.sizeToFix();
    try {
      const attachment = await session.client.putChunk(session.attachmentId, {
        offset: flight.start,
        bytes,
        sha1: hash.digest(),
        size: size !== null && flight.end === size ? size : undefined,
        signal: AbortSignal.any([session.stop.signal, flight.controller.signal]),
      });
      session.estimate.replied(Date.now() - flight.startedAt, session.estimate.expectedMs(flight.carried));
      session.estimate.ended(bytes.byteLength);
      for (const older of this.flights) if (older.startedAt < flight.startedAt) older.overtaken += bytes.byteLength;
      this.lastAcknowledgedAt = Date.now();
      session.gate.succeeded();
      this.stalls.delete(flight.start);
      this.mismatches = 0;
      session.observe(attachment);
      this.onChunkAcknowledged?.([flight.start, flight.end]);
    } catch (error) {
      session.estimate.ended(0);
      if (session.stop.signal.aborted) return;
      if (flight.stalled || (error instanceof TrickleApiError && error.errorName === 'chunk_checksum_mismatch' && ++this.mismatches <= MAX_MISMATCHES)) {
        session.retried(error, 0);
        return this.doubt(flight, flight.stalled);
      }
      try {
        session.retried(error, session.gate.failed(error));
      } catch (fatal) {
        return this.fail(fatal);
      }
      this.doubt(flight, false);
    }
  }

  /** Abandons requests whose reply is late for what the link had to carry, or that chunks sent after them overtook. */
  private abandonStalled(): void {
    const now = Date.now();
    for (const flight of this.flights) {
      if (flight.stalled) continue;
      const elapsed = now - flight.startedAt;
      // Overtaken, and late even without the margin: a busy server may answer out of order, but not that far.
      const overtaken = flight.overtaken >= 4 * (flight.end - flight.start) + OVERTAKE_SLACK && elapsed >= this.session.estimate.expectedMs(flight.carried);
      if (!overtaken && elapsed < this.session.estimate.stallAfterMs(flight.carried)) continue;
      flight.stalled = true;
      this.session.estimate.stalled(now - Math.max(flight.startedAt, this.lastAcknowledgedAt));
      this.session.client.transport.dropIdleConnections();
      flight.controller.abort(new TrickleTimeoutError('the request stalled'));
    }
  }

  /** Milliseconds until something needs a look: a reply falls due, the gate opens, a held range may go. */
  private nextCheckIn(): number | null {
    const now = Date.now();
    const times: number[] = [];
    for (const flight of this.flights) if (!flight.stalled) times.push(flight.startedAt + this.session.estimate.stallAfterMs(flight.carried));
    if (!this.session.gate.open) times.push(this.session.gate.reopensAt);
    for (const resend of this.resends) if (resend.notBefore > now) times.push(resend.notBefore);
    // The next chunk goes out when the link has drained to a round trip's worth, not only when a
    // reply comes: chunks launched together (after a reconnection) would otherwise end together,
    // and each batch after them would leave the link idle while its replies came back.
    const regular = this.regularFlights();
    if (this.session.gate.open && this.session.gate.waitingFor === null && regular > 0 && regular < this.session.concurrencyLimit) {
      const drainMs = this.session.estimate.msUntilWantsMore(this.backlog());
      if (drainMs !== null && drainMs > 0) times.push(now + drainMs);
    }
    if (times.length === 0) return null;
    return Math.max(1, Math.min(...times) - now + 1);
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.session.stop.abort(error);
    this.wake();
  }

  /** Part of `flight`'s range may have arrived: ask the server before sending it again. */
  private doubt(flight: Flight, stalled: boolean): void {
    this.uncertain.push({ start: flight.start, end: flight.end, stalled });
    if (this.resync === null) {
      this.resync = this.askServer()
        .catch((error: unknown) => this.fail(error))
        .finally(() => {
          this.resync = null;
          this.wake();
        });
    }
  }

  /** Asks the server what it holds until every uncertain range is settled into resends. */
  private async askServer(): Promise<void> {
    const { session } = this;
    while (this.uncertain.length > 0) {
      const batch = this.uncertain;
      this.uncertain = [];
      let held: ByteRange[];
      try {
        const attachment = await session.small((limits) => session.client.attachment(session.attachmentId, limits));
        session.observe(attachment);
        held = attachment.ranges;
      } catch (error) {
        this.uncertain.unshift(...batch);
        throw error;
      }
      const now = Date.now();
      for (const doubted of batch) {
        const gaps = lacking(doubted.start, doubted.end, held);
        // A "stalled" request whose bytes all arrived was only slow.
        if (doubted.stalled && covers(held, doubted.start, doubted.end)) session.estimate.falseStall();
        for (const [start, end] of gaps) {
          const stalls = doubted.stalled ? (this.stalls.get(start) ?? 0) + 1 : 0;
          if (doubted.stalled) this.stalls.set(start, stalls);
          const notBefore = stalls > 1 ? now + Math.min(MAX_HOLD_MS, 1000 * 2 ** (stalls - 2)) : 0;
          this.queueResend({ start, end, notBefore, probe: stalls > 0 });
        }
      }
      this.wake();
    }
  }

  /** Resends go in file order, each byte once; adjacent ranges that may go at once are one range, so that chunks stay whole. */
  private queueResend(resend: Resend): void {
    const others = this.resends.flatMap((r) => (r.end <= resend.start || r.start >= resend.end ? [r] : lacking(r.start, r.end, [[resend.start, resend.end]]).map(([start, end]) => ({ ...r, start, end }))));
    const sorted = [...others, resend].sort((a, b) => a.start - b.start);
    this.resends = [];
    for (const next of sorted) {
      const last = this.resends[this.resends.length - 1];
      if (last && last.end === next.start && last.notBefore === next.notBefore && last.probe === next.probe) last.end = next.end;
      else this.resends.push({ ...next });
    }
  }
}
