/**
 * The resumable upload: create (or find) the attachment, then walk the file once in order,
 * fingerprinting every byte and sending the ranges the server lacks, several chunks at once.
 * Each chunk is retried on its own; the walk ends when the server holds the whole file and
 * its SHA1 equals ours.
 */
import { TrickleClient } from './api.js';
import type { ChunkSizing } from './chunk-sizer.js';
import { ChunkSender } from './chunk-sender.js';
import { TrickleApiError, TrickleUploadError } from './errors.js';
import { InFlight } from './in-flight.js';
import { ProgressMeter, type UploadProgress } from './progress.js';
import { sleep, type RetryPolicy } from './retry.js';
import type { Sha1, Sha1Factory } from './sha1.js';
import type { UploadSource } from './source.js';
import type { Attachment, ByteRange } from './types.js';

export interface UploadOptions {
  /** A client to use; else one is made from `server` and `token`. */
  client?: TrickleClient;
  server?: string;
  token?: string;
  /** The name the server is told; default: the source's. */
  filename?: string;
  /** Resume this attachment: only the ranges it lacks are sent. If it is gone, a new one is made. */
  attachmentId?: number;
  /** Chunks in flight at once; default 4. */
  concurrency?: number;
  chunkSizing?: Partial<ChunkSizing>;
  retry?: Partial<RetryPolicy>;
  /** A request without an answer after this many ms (plus `minBytesPerSecond` time for its body) is retried; default 30 s. */
  timeoutMs?: number;
  /** The slowest upload rate to wait for before a chunk counts as stalled; default 16 KiB/s. */
  minBytesPerSecond?: number;
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
  /** Called once the attachment is known, before any chunk is sent (e.g. to remember its id). */
  onAttachment?: (attachment: Attachment) => void | Promise<void>;
  onRetry?: (error: unknown, delayMs: number) => void;
  /** Called for every chunk the server acknowledged: those bytes are durable there. */
  onChunkAcknowledged?: (range: ByteRange) => void;
  /** The SHA1 implementation; Node's entry point passes node:crypto. */
  sha1?: Sha1Factory;
}

export interface UploadResult {
  attachmentId: number;
  /** Hex SHA1 of the whole file, computed here and confirmed by the server. */
  fingerprint: string;
  size: number;
  attachment: Attachment;
  /** Chunk bytes put on the wire, retries included. */
  bytesSent: number;
  /** True when an existing attachment was continued. */
  resumed: boolean;
}

/** Enough rounds for ranges lost to a server crash between our acknowledgement and its restart. */
const MAX_ROUNDS = 5;
/** How long to wait for a whole file's SHA1 (the server hashes an out-of-order file once). */
const SETTLE_POLLS = 240;
const SETTLE_POLL_MS = 250;
/** Present ranges are read this much at a time to be fingerprinted. */
const HASH_BLOCK = 4 * 1024 * 1024;

export function clientFor(options: Pick<UploadOptions, 'client' | 'server' | 'token'>): TrickleClient {
  if (options.client) return options.client;
  if (!options.server) throw new TypeError('upload needs either `client` or `server` (and `token`)');
  return new TrickleClient({ server: options.server, token: options.token });
}

/** Uploads `source` as a chunked attachment; resolves once the server confirmed every byte. */
export async function uploadSource(source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
  return new UploadRun(source, options).run();
}

/**
 * Polls the attachment until it is complete (the server may still be hashing an out-of-order
 * file) or lacks ranges; throws if it holds every byte but never completes.
 */
export async function settle(fetchAttachment: () => Promise<Attachment>, signal: AbortSignal, observe: (attachment: Attachment) => void): Promise<Attachment> {
  for (let poll = 0; poll < SETTLE_POLLS; poll += 1) {
    if (poll > 0) await sleep(SETTLE_POLL_MS, signal);
    const attachment = await fetchAttachment();
    observe(attachment);
    if (attachment.complete || attachment.missing.length > 0) return attachment;
  }
  throw new TrickleUploadError('the attachment holds every byte but did not complete in time');
}

/** Runs `work` with a signal aborted by the caller's signal or by `stop`. */
export async function stoppable<T>(stop: AbortController, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw signal.reason;
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await work();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

class UploadRun {
  private readonly source: UploadSource;
  private readonly options: UploadOptions;

  private readonly client: TrickleClient;
  private readonly chunks: ChunkSender;
  private readonly concurrency: number;
  private readonly sha1: Sha1Factory;
  /** Aborted by the caller's signal, or by the first chunk that fails for good. */
  private readonly stop = new AbortController();
  private meter: ProgressMeter | null = null;
  private latest: Attachment | null = null;

  constructor(
    source: UploadSource,
    options: UploadOptions,
  ) {
    this.source = source;
    this.options = options;
    this.client = clientFor(options);
    this.chunks = new ChunkSender(this.client, options, this.stop.signal);
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.sha1 = this.chunks.sha1;
    if (source.size < 1) throw new TrickleUploadError('cannot upload an empty file');
  }

  run(): Promise<UploadResult> {
    return stoppable(this.stop, this.options.signal, () => this.upload());
  }

  private async upload(): Promise<UploadResult> {
    const { attachment: opened, resumed } = await this.open();
    this.latest = opened;
    await this.options.onAttachment?.(opened);
    this.meter = new ProgressMeter(this.source.size, opened.received_bytes);
    this.options.onProgress?.(this.meter.snapshot());

    const fingerprint = this.sha1();
    let hashed = false;
    let attachment = opened;
    for (let round = 0; !attachment.complete; round += 1) {
      if (round === MAX_ROUNDS) throw new TrickleUploadError(`the server still lacks ${attachment.outstanding} bytes after ${MAX_ROUNDS} rounds`);
      await this.send(attachment.missing, hashed ? null : fingerprint);
      hashed = true;
      attachment = await this.settle();
    }
    // A resumed attachment that was already complete still has to be fingerprinted here.
    if (!hashed) await this.hashRange(fingerprint, 0, this.source.size);
    const sha1 = fingerprint.digest();
    if (attachment.sha1 !== sha1) {
      throw new TrickleUploadError(`the server's copy has SHA1 ${attachment.sha1}, the file has ${sha1}: the file changed during the upload, or attachment ${attachment.id} holds another file`);
    }
    return { attachmentId: attachment.id, fingerprint: sha1, size: this.source.size, attachment, bytesSent: this.chunks.bytesSent, resumed };
  }

  /** The attachment to continue, or a new one. */
  private async open(): Promise<{ attachment: Attachment; resumed: boolean }> {
    const { attachmentId } = this.options;
    if (attachmentId !== undefined) {
      try {
        const existing = await this.retrying(() => this.client.attachment(attachmentId, { signal: this.stop.signal }));
        if (existing.size === this.source.size) return { attachment: existing, resumed: true };
      } catch (error) {
        // Expired, deleted or never ours: start over. Anything else is the caller's to see.
        if (!(error instanceof TrickleApiError && error.status === 404)) throw error;
      }
    }
    const filename = this.options.filename ?? this.source.name;
    const created = await this.retrying(() => this.client.createAttachment(this.source.size, filename, { signal: this.stop.signal }));
    return { attachment: created, resumed: false };
  }

  /** Sends `missing` in chunks; with a hasher, walks the whole file in order and fingerprints it too. */
  private async send(missing: ByteRange[], fingerprint: Sha1 | null): Promise<void> {
    const inFlight = new InFlight(this.concurrency, this.stop);
    let cursor = 0;
    try {
      for (const [start, end] of missing) {
        if (fingerprint) await this.hashRange(fingerprint, cursor, start);
        for (let offset = start; offset < end; ) {
          await inFlight.slot();
          const length = Math.min(this.chunks.sizer.current, end - offset);
          const bytes = await this.source.read(offset, length);
          fingerprint?.update(bytes);
          inFlight.start(this.sendChunk(offset, bytes));
          offset += length;
        }
        cursor = end;
      }
      if (fingerprint) await this.hashRange(fingerprint, cursor, this.source.size);
    } catch (error) {
      this.stop.abort(error);
      await inFlight.drain().catch(() => undefined);
      throw error;
    }
    await inFlight.drain();
  }

  private async sendChunk(offset: number, bytes: Uint8Array): Promise<void> {
    this.observe(await this.chunks.send(this.attachmentId(), offset, bytes));
  }

  /** Present bytes are read only to be fingerprinted. */
  private async hashRange(fingerprint: Sha1, start: number, end: number): Promise<void> {
    for (let offset = start; offset < end; offset += HASH_BLOCK) {
      if (this.stop.signal.aborted) throw this.stop.signal.reason;
      fingerprint.update(await this.source.read(offset, Math.min(HASH_BLOCK, end - offset)));
    }
  }

  /** The server's view once every chunk of a round is acknowledged; waits while it hashes. */
  private async settle(): Promise<Attachment> {
    if (this.latest?.complete) return this.latest;
    return settle(() => this.retrying(() => this.client.attachment(this.attachmentId(), { signal: this.stop.signal })), this.stop.signal, (a) => this.observe(a));
  }

  private observe(attachment: Attachment): void {
    // Replies to parallel chunks arrive in any order: keep the one that knows the most.
    if (this.latest === null || attachment.received_bytes >= this.latest.received_bytes) this.latest = attachment;
    if (this.meter) this.options.onProgress?.(this.meter.update(attachment.received_bytes));
  }

  private attachmentId(): number {
    if (this.latest === null) throw new Error('no attachment yet');
    return this.latest.id;
  }

  private retrying<T>(attempt: () => Promise<T>): Promise<T> {
    return this.chunks.retrying(attempt);
  }
}
