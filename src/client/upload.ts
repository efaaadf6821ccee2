/**
 * The resumable upload: create (or find) the attachment, then walk the file once in order,
 * fingerprinting every byte and sending the ranges the server lacks (chunk-pipeline.ts sends
 * them, as many at once and as big as the link allows). The upload ends when the server holds
 * the whole file and its SHA1 equals ours; it waits out a lost network for as long as the
 * caller wants it (until the signal aborts or the deadline passes).
 */
import { TrickleClient } from './api.js';
import { ChunkPipeline, type Chunk, type ChunkFeed } from './chunk-pipeline.js';
import type { ChunkSizing } from './chunk-sizing.js';
import { TrickleApiError, TrickleUploadError } from './errors.js';
import { ProgressMeter, type UploadProgress } from './progress.js';
import { sleep, type RetryPolicy } from './retry.js';
import type { Sha1, Sha1Factory } from './sha1.js';
import type { UploadSource } from './source.js';
import type { Attachment, ByteRange } from './types.js';
import { UploadSession } from './upload-session.js';

export interface UploadOptions {
  /** A client to use; else one is made from `server` and `token`. */
  client?: TrickleClient;
  server?: string;
  token?: string;
  /** The name the server is told; default: the source's. */
  filename?: string;
  /** Resume this attachment: only the ranges it lacks are sent. If it is gone, a new one is made. */
  attachmentId?: number;
  /** The most chunks in flight at once (default 4); how many are, follows the link. */
  concurrency?: number;
  chunkSizing?: Partial<ChunkSizing>;
  /** How failures are waited out; by default the upload never gives up on a lost network or a busy server. */
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Gives up at this time (a Date, or ms since the epoch) with a TrickleTimeoutError. */
  deadline?: Date | number;
  onProgress?: (progress: UploadProgress) => void;
  /** Called once the attachment is known, before any chunk is sent (e.g. to remember its id). */
  onAttachment?: (attachment: Attachment) => void | Promise<void>;
  /** Called when a try failed and the next waits `delayMs`. */
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
  /** Chunk bytes put on the wire, resends included. */
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
 * The server's view once everything sent is acknowledged: asks until the attachment is
 * complete (the server may still be hashing an out-of-order file) or lacks ranges; throws if
 * it holds every byte but never completes.
 */
export async function settle(session: UploadSession): Promise<Attachment> {
  if (session.latest?.complete) return session.latest;
  for (let poll = 0; poll < SETTLE_POLLS; poll += 1) {
    if (poll > 0) await sleep(SETTLE_POLL_MS, session.stop.signal);
    const attachment = await session.small((limits) => session.client.attachment(session.attachmentId, limits));
    session.observe(attachment);
    if (attachment.complete || attachment.missing.length > 0) return attachment;
  }
  throw new TrickleUploadError('the attachment holds every byte but did not complete in time');
}

/** The file walked once in order: every byte fingerprinted, the bytes the server lacks given out as chunks. */
class FileWalk implements ChunkFeed {
  private cursor = 0;
  private rangeIndex = 0;
  exhausted = false;

  private readonly source: UploadSource;
  private readonly missing: readonly ByteRange[];
  private readonly fingerprint: Sha1;
  private readonly stop: AbortSignal;

  constructor(
    source: UploadSource,
    missing: readonly ByteRange[],
    fingerprint: Sha1,
    stop: AbortSignal,
  ) {
    this.source = source;
    this.missing = missing;
    this.fingerprint = fingerprint;
    this.stop = stop;
  }

  async next(maxBytes: number): Promise<Chunk | null> {
    for (;;) {
      const range = this.missing[this.rangeIndex];
      if (range === undefined) {
        await this.hashTo(this.source.size);
        this.exhausted = true;
        return null;
      }
      const [start, end] = range;
      if (this.cursor >= end) {
        this.rangeIndex += 1;
        continue;
      }
      await this.hashTo(start);
      const length = Math.min(maxBytes, end - this.cursor);
      const bytes = await this.source.read(this.cursor, length);
      this.fingerprint.update(bytes);
      const chunk = { start: this.cursor, bytes };
      this.cursor += length;
      return chunk;
    }
  }

  whenReady(): Promise<void> {
    return Promise.resolve();
  }

  reread(start: number, end: number): Promise<Uint8Array> {
    return this.source.read(start, end - start);
  }

  /** Bytes the server already holds are read only to be fingerprinted. */
  private async hashTo(end: number): Promise<void> {
    while (this.cursor < end) {
      if (this.stop.aborted) throw this.stop.reason;
      const length = Math.min(HASH_BLOCK, end - this.cursor);
      this.fingerprint.update(await this.source.read(this.cursor, length));
      this.cursor += length;
    }
  }
}

/** Nothing new: only resends. */
const NO_NEW_CHUNKS: ChunkFeed = {
  next: async () => null,
  exhausted: true,
  whenReady: () => Promise.resolve(),
  reread: () => Promise.reject(new Error('nothing to reread')),
};

class UploadRun {
  private readonly session: UploadSession;
  private readonly pipeline: ChunkPipeline;
  private readonly source: UploadSource;
  private readonly options: UploadOptions;

  constructor(source: UploadSource, options: UploadOptions) {
    this.source = source;
    this.options = options;
    this.session = new UploadSession(clientFor(options), options);
    this.pipeline = new ChunkPipeline(this.session, () => null, options.onChunkAcknowledged);
    if (source.size < 1) throw new TrickleUploadError('cannot upload an empty file');
  }

  run(): Promise<UploadResult> {
    return this.session.run(() => this.upload());
  }

  private async upload(): Promise<UploadResult> {
    const { session, source } = this;
    // Waiting for the network to create the attachment is reported too.
    session.meter = new ProgressMeter(source.size, 0);
    const { attachment: opened, resumed } = await this.open();
    session.latest = opened;
    await this.options.onAttachment?.(opened);
    session.meter = new ProgressMeter(source.size, opened.received_bytes);
    this.options.onProgress?.(session.meter.snapshot());

    const fingerprint = session.sha1();
    const walk = new FileWalk(source, opened.complete ? [] : opened.missing, fingerprint, session.stop.signal);
    await this.pipeline.run(walk);
    // A file whose ranges were all there still has to be fingerprinted.
    if (!walk.exhausted) await walk.next(0);
    let attachment = await settle(session);
    for (let round = 1; !attachment.complete; round += 1) {
      if (round === MAX_ROUNDS) throw new TrickleUploadError(`the server still lacks ${attachment.outstanding} bytes after ${MAX_ROUNDS} rounds`);
      this.pipeline.resend(attachment.missing);
      await this.pipeline.run({ ...NO_NEW_CHUNKS, reread: (start, end) => walk.reread(start, end) });
      attachment = await settle(session);
    }
    const sha1 = fingerprint.digest();
    if (attachment.sha1 !== sha1) {
      throw new TrickleUploadError(`the server's copy has SHA1 ${attachment.sha1}, the file has ${sha1}: the file changed during the upload, or attachment ${attachment.id} holds another file`);
    }
    return { attachmentId: attachment.id, fingerprint: sha1, size: source.size, attachment, bytesSent: this.pipeline.bytesSent, resumed };
  }

  /** The attachment to continue, or a new one. */
  private async open(): Promise<{ attachment: Attachment; resumed: boolean }> {
    const { session } = this;
    const { attachmentId } = this.options;
    if (attachmentId !== undefined) {
      try {
        const existing = await session.small((limits) => session.client.attachment(attachmentId, limits));
        if (existing.size === this.source.size) return { attachment: existing, resumed: true };
      } catch (error) {
        // Expired, deleted or never ours: start over. Anything else is the caller's to see.
        if (!(error instanceof TrickleApiError && error.status === 404)) throw error;
      }
    }
    const filename = this.options.filename ?? this.source.name;
    const created = await session.small((limits) => session.client.createAttachment(this.source.size, filename, limits));
    return { attachment: created, resumed: false };
  }
}
