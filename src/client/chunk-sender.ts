/**
 * Sends one chunk of an upload: with its SHA1 (so the server keeps nothing that was garbled),
 * a stall timeout that grows with its size, retries of its own, and chunk sizes that follow
 * how the network does.
 */
import type { TrickleClient } from './api.js';
import { ChunkSizer, DEFAULT_CHUNK_SIZING } from './chunk-sizer.js';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry.js';
import { portableSha1, type Sha1Factory } from './sha1.js';
import type { Attachment } from './types.js';
import type { UploadOptions } from './upload.js';

export class ChunkSender {
  readonly client: TrickleClient;
  private readonly options: UploadOptions;
  /** Aborts every request of the upload. */
  private readonly signal: AbortSignal;

  readonly sizer: ChunkSizer;
  readonly sha1: Sha1Factory;
  /** Chunk bytes put on the wire, retries included. */
  bytesSent = 0;
  private readonly retry: RetryPolicy;

  constructor(
    client: TrickleClient,
    options: UploadOptions,
    signal: AbortSignal,
  ) {
    this.client = client;
    this.options = options;
    this.signal = signal;
    this.sizer = new ChunkSizer({ ...DEFAULT_CHUNK_SIZING, ...options.chunkSizing });
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sha1 = options.sha1 ?? portableSha1;
  }

  retrying<T>(attempt: () => Promise<T>): Promise<T> {
    return withRetries(attempt, this.retry, this.signal, this.options.onRetry);
  }

  /** Resolves the server's view of the attachment once it holds `bytes` at `offset` durably. */
  async send(attachmentId: number, offset: number, bytes: Uint8Array): Promise<Attachment> {
    const chunkSha1 = this.sha1();
    chunkSha1.update(bytes);
    const sha1 = chunkSha1.digest();
    const timeoutMs = (this.options.timeoutMs ?? 30_000) + (bytes.byteLength / (this.options.minBytesPerSecond ?? 16 * 1024)) * 1000;
    const reply = await this.retrying(async () => {
      const started = Date.now();
      this.bytesSent += bytes.byteLength;
      try {
        const attachment = await this.client.putChunk(attachmentId, { offset, bytes, sha1, signal: this.signal, timeoutMs });
        this.sizer.succeeded(bytes.byteLength, Date.now() - started);
        return attachment;
      } catch (error) {
        this.sizer.failed();
        throw error;
      }
    });
    this.options.onChunkAcknowledged?.([offset, offset + bytes.byteLength]);
    return reply;
  }
}
