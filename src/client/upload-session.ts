/**
 * What every request of one upload shares: the client, what is known of the link, the gate
 * that holds requests back while the network (or the server) is away, the stop signal (the
 * caller's abort, the deadline, or a failure for good), and the server's latest view of the
 * attachment, which drives the progress events.
 */
import type { TrickleClient } from './api.js';
import { chunkSizing } from './chunk-sizing.js';
import { TrickleTimeoutError } from './errors.js';
import { LinkEstimate } from './link-estimate.js';
import type { ProgressMeter } from './progress.js';
import { DEFAULT_RETRY, NetworkGate, untilStopped } from './retry.js';
import { portableSha1, type Sha1Factory } from './sha1.js';
import type { Attachment } from './types.js';
import type { UploadOptions } from './upload.js';

/** A request's own signal and how long it may go unanswered. */
export interface CallLimits {
  signal: AbortSignal;
  timeoutMs: number;
}

export class UploadSession {
  readonly estimate: LinkEstimate;
  readonly gate: NetworkGate;
  /** Aborted by the caller's signal, the deadline, or the first failure for good. */
  readonly stop = new AbortController();
  readonly sha1: Sha1Factory;
  /** The most chunks in flight at once. */
  readonly concurrencyLimit: number;
  latest: Attachment | null = null;
  /** The size any reply showed fixed (an attachment created without one gets it later). */
  fixedSize: number | null = null;
  meter: ProgressMeter | null = null;
  /** Told of every reply's view of the attachment. */
  seen: ((attachment: Attachment) => void) | null = null;
  readonly client: TrickleClient;
  private readonly options: UploadOptions;

  constructor(client: TrickleClient, options: UploadOptions) {
    this.client = client;
    this.options = options;
    this.estimate = new LinkEstimate(chunkSizing(options.chunkSizing));
    this.gate = new NetworkGate(
      { ...DEFAULT_RETRY, ...options.retry },
      {
        onWait: (waitingFor, nextTryAt) => {
          if (this.meter) options.onProgress?.(this.meter.waiting(waitingFor, nextTryAt));
        },
        onBack: () => {
          if (this.meter) options.onProgress?.(this.meter.sending());
        },
      },
    );
    this.sha1 = options.sha1 ?? portableSha1;
    this.concurrencyLimit = Math.max(1, Math.floor(options.concurrency ?? 4));
  }

  /** Runs `work` until it ends, the caller's signal aborts, or the deadline passes. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return untilStopped(this.stop, this.options, 'upload', work);
  }

  /**
   * A request without a body to speak of (create, status, size), tried until it is answered
   * while the network or the server is away; its time measures the round trip.
   */
  async small<T>(request: (limits: CallLimits) => Promise<T>): Promise<T> {
    for (;;) {
      await this.gate.ready(this.stop.signal);
      const started = Date.now();
      try {
        const answer = await request({ signal: this.stop.signal, timeoutMs: this.estimate.smallRequestTimeoutMs() });
        this.estimate.roundTrip(Date.now() - started);
        this.gate.succeeded();
        return answer;
      } catch (error) {
        if (this.stop.signal.aborted) throw this.stop.signal.reason;
        if (error instanceof TrickleTimeoutError) this.client.transport.dropIdleConnections();
        this.retried(error, this.gate.failed(error));
      }
    }
  }

  /** A request failed and is tried again in `delayMs`. */
  retried(error: unknown, delayMs: number): void {
    this.options.onRetry?.(error, delayMs);
  }

  /** The server's view of the attachment, from any reply; replies to parallel requests come in any order: the one that knows the most is kept. */
  observe(attachment: Attachment): void {
    if (attachment.size !== null) this.fixedSize = attachment.size;
    if (this.latest === null || attachment.complete || (!this.latest.complete && attachment.received_bytes >= this.latest.received_bytes)) this.latest = attachment;
    this.seen?.(this.latest);
    if (this.meter) this.options.onProgress?.(this.meter.update(attachment.received_bytes));
  }

  get attachmentId(): number {
    if (this.latest === null) throw new Error('no attachment yet');
    return this.latest.id;
  }
}
