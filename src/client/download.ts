/**
 * A download that survives a bad link: a transfer cut off midway, or gone silent, is continued
 * where it stopped with a Range request (If-Range: the ETag, so that a file changed meanwhile
 * starts over instead of being spliced), a lost network is waited out as uploads do, and the
 * whole file is checked against its SHA1 at the end (the one the caller knows, e.g. a clip's
 * `audio.sha1`, else the server's ETag, which is the SHA1).
 */
import type { TrickleClient } from './api.js';
import { TrickleApiError, TrickleNetworkError, TrickleTimeoutError, TrickleUploadError } from './errors.js';
import { ProgressMeter, type UploadState } from './progress.js';
import { DEFAULT_RETRY, NetworkGate, untilStopped, type RetryPolicy } from './retry.js';
import { portableSha1, type Sha1, type Sha1Factory } from './sha1.js';

/** Where the bytes go; it may already hold the start of the file from an earlier try. */
export interface DownloadSink {
  /** Bytes already held: the download continues after them. */
  readonly size: number;
  write(bytes: Uint8Array): Promise<void>;
  /** Forgets every byte held: they belong to another version of the file. */
  truncate(): Promise<void>;
  /** The bytes held, in order, to fingerprint a continued download. */
  held(): AsyncIterable<Uint8Array>;
}

export interface DownloadProgress {
  receivedBytes: number;
  /** Null until the server said. */
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
  state: UploadState;
  nextTryAt: number | null;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Gives up at this time (a Date, or ms since the epoch) with a TrickleTimeoutError. */
  deadline?: Date | number;
  /** How failures are waited out; by default the download never gives up on a lost network. */
  retry?: Partial<RetryPolicy>;
  /** The SHA1 the file must have (e.g. a clip's `audio.sha1`); else the ETag's. */
  expectedSha1?: string;
  onProgress?: (progress: DownloadProgress) => void;
  onRetry?: (error: unknown, delayMs: number) => void;
  sha1?: Sha1Factory;
}

export interface DownloadResult {
  size: number;
  sha1: string;
  /** Bytes the sink held already at the start. */
  resumedFrom: number;
  /** Requests it took. */
  requests: number;
}

/** Silence shorter than this is never taken for a stall. */
const MIN_SILENCE_MS = 1500;
const FIRST_ANSWER_MS = 10_000;

/** `bytes a-b/total` of a 206, or `bytes * /total` of a 416. */
function contentRange(header: string | null): { start: number | null; total: number | null } {
  const match = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!match) return { start: null, total: null };
  return { start: match[1] === undefined ? null : Number(match[1]), total: match[2] === '*' ? null : Number(match[2]) };
}

/** Downloads `path` (a clip's or message's `urls.audio`, ...) into `sink`, continuing from what it holds. */
export async function downloadTo(client: TrickleClient, path: string, sink: DownloadSink, options: DownloadOptions = {}): Promise<DownloadResult> {
  return new DownloadRun(client, path, sink, options).run();
}

class DownloadRun {
  private readonly client: TrickleClient;
  private readonly path: string;
  private readonly sink: DownloadSink;
  private readonly options: DownloadOptions;
  private readonly stop = new AbortController();
  private readonly gate: NetworkGate;
  private meter = new ProgressMeter(0, 0);
  private readonly sha1: Sha1Factory;
  private fingerprint: Sha1;
  private etag: string | null = null;
  private total: number | null = null;
  private received = 0;
  /** The quickest answer so far: what a request's first byte may take. */
  private answerMs: number | null = null;
  /** Recent time between pieces of a body: what silence is still normal. */
  private gapMs = 0;

  constructor(client: TrickleClient, path: string, sink: DownloadSink, options: DownloadOptions) {
    this.client = client;
    this.path = path;
    this.sink = sink;
    this.options = options;
    this.sha1 = options.sha1 ?? portableSha1;
    this.fingerprint = this.sha1();
    this.gate = new NetworkGate({ ...DEFAULT_RETRY, ...options.retry }, {
      onWait: (waitingFor, nextTryAt) => this.options.onProgress?.(this.view(this.meter.waiting(waitingFor, nextTryAt))),
      onBack: () => this.options.onProgress?.(this.view(this.meter.sending())),
    });
  }

  run(): Promise<DownloadResult> {
    return untilStopped(this.stop, this.options, 'download', () => this.download());
  }

  private async download(): Promise<DownloadResult> {
    const resumedFrom = this.sink.size;
    for await (const bytes of this.sink.held()) this.fingerprint.update(bytes);
    this.received = resumedFrom;
    this.meter = new ProgressMeter(0, resumedFrom);
    let requests = 0;
    while (this.total === null || this.received < this.total) {
      await this.gate.ready(this.stop.signal);
      requests += 1;
      try {
        await this.attempt();
        this.gate.succeeded();
      } catch (error) {
        if (this.stop.signal.aborted) throw this.stop.signal.reason;
        if (error instanceof StalledError) {
          this.options.onRetry?.(error, 0);
          continue;
        }
        const delay = this.gate.failed(error);
        this.options.onRetry?.(error, delay);
      }
    }
    const sha1 = this.fingerprint.digest();
    const expected = this.options.expectedSha1 ?? this.etagSha1();
    if (expected !== null && sha1 !== expected) {
      await this.sink.truncate();
      throw new TrickleUploadError(`the downloaded file has SHA1 ${sha1}, the server's has ${expected}; what was downloaded is dropped`);
    }
    return { size: this.received, sha1, resumedFrom, requests };
  }

  /** One request: from what the sink holds to the end, or until it is cut off or goes silent. */
  private async attempt(): Promise<void> {
    const watch = new AbortController();
    const signal = AbortSignal.any([this.stop.signal, watch.signal]);
    const headers: Record<string, string> = {};
    if (this.received > 0 && this.etag !== null) headers['if-range'] = this.etag;
    const started = Date.now();
    let timer = setTimeout(() => watch.abort(new StalledError()), this.answerMs === null ? FIRST_ANSWER_MS : 4 * this.answerMs + MIN_SILENCE_MS);
    try {
      let response: Response;
      try {
        response = await this.client.download(this.path, { signal, headers, ...(this.received > 0 ? { range: [this.received] as [number] } : {}) });
      } catch (error) {
        if (error instanceof TrickleApiError && error.status === 416) return this.beyondTheEnd(error);
        throw error;
      }
      this.answerMs = Math.min(this.answerMs ?? Infinity, Date.now() - started);
      await this.accept(response);
      const reader = response.body?.getReader();
      if (!reader) throw new TrickleNetworkError(`GET ${this.path}: no body`);
      let last = Date.now();
      for (;;) {
        clearTimeout(timer);
        timer = setTimeout(() => watch.abort(new StalledError()), Math.max(MIN_SILENCE_MS, 4 * this.gapMs));
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          throw watch.signal.aborted ? watch.signal.reason : new TrickleNetworkError(`GET ${this.path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        if (next.done) break;
        const now = Date.now();
        this.gapMs = this.gapMs === 0 ? now - last : this.gapMs * 0.8 + (now - last) * 0.2;
        last = now;
        await this.sink.write(next.value);
        this.fingerprint.update(next.value);
        this.received += next.value.byteLength;
        this.options.onProgress?.(this.view(this.meter.update(this.received)));
      }
      if (this.total !== null && this.received < this.total) throw new TrickleNetworkError(`GET ${this.path}: the body ended after ${this.received} of ${this.total} bytes`);
      this.total ??= this.received;
    } catch (error) {
      throw watch.signal.aborted && !this.stop.signal.aborted ? watch.signal.reason : error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes the answer's place in the file: a continuation (206 from where we are), or the whole file afresh. */
  private async accept(response: Response): Promise<void> {
    const etag = response.headers.get('etag');
    if (response.status === 206) {
      const range = contentRange(response.headers.get('content-range'));
      if (range.start === this.received && range.total !== null && (this.etag === null || etag === this.etag)) {
        this.learn(etag, range.total);
        return;
      }
    }
    // The whole file (a server that ignores Range, or a file that changed): start over.
    if (this.received > 0) await this.restart();
    const length = response.headers.get('content-length');
    this.learn(etag, response.status === 200 && length !== null ? Number(length) : null);
  }

  /** A 416: the sink holds the whole file already, or more than the file (another version). */
  private async beyondTheEnd(error: TrickleApiError): Promise<void> {
    const total = typeof error.details?.size === 'number' ? error.details.size : null;
    if (total !== null && total === this.received) {
      this.total = total;
      return;
    }
    await this.restart();
  }

  private learn(etag: string | null, total: number | null): void {
    this.etag = etag;
    this.total = total;
    this.meter.grow(total ?? 0, total !== null);
  }

  private async restart(): Promise<void> {
    await this.sink.truncate();
    this.meter = new ProgressMeter(0, 0);
    this.fingerprint = this.sha1();
    this.received = 0;
    this.etag = null;
    this.total = null;
  }

  /** The ETag as a SHA1, when it is one (Trickle's are). */
  private etagSha1(): string | null {
    const match = /^(?:W\/)?"([0-9a-f]{40})"$/.exec(this.etag ?? '');
    return match?.[1] ?? null;
  }

  private view(progress: ReturnType<ProgressMeter['snapshot']>): DownloadProgress {
    return {
      receivedBytes: progress.acknowledgedBytes,
      totalBytes: this.total,
      bytesPerSecond: progress.bytesPerSecond,
      etaSeconds: this.total === null ? null : progress.etaSeconds,
      state: progress.state,
      nextTryAt: progress.nextTryAt,
    };
  }
}

/** A transfer that went silent: tried again at once. */
class StalledError extends TrickleTimeoutError {
  constructor() {
    super('the download stalled');
  }
}

/** Bytes kept in memory: for small files, and tests. */
export function memorySink(): DownloadSink & { bytes(): Uint8Array } {
  let pieces: Uint8Array[] = [];
  let size = 0;
  return {
    get size() {
      return size;
    },
    write: async (bytes) => {
      pieces.push(bytes.slice());
      size += bytes.byteLength;
    },
    truncate: async () => {
      pieces = [];
      size = 0;
    },
    held: async function* () {
      yield* pieces;
    },
    bytes: () => {
      const all = new Uint8Array(size);
      let at = 0;
      for (const piece of pieces) {
        all.set(piece, at);
        at += piece.byteLength;
      }
      return all;
    },
  };
}
