/**
 * Uploading a source whose length is not known until it ends: a recording in progress
 * (MediaRecorder's `dataavailable` Blobs), standard input, a file still being written.
 * The attachment is created without a size (SPEC 3.8); every piece is sent as soon as it
 * arrives, at its offset, several at once, each retried on its own, and fingerprinted on the
 * way; when the source ends the size is fixed and the server's SHA1 is checked against ours.
 * Only pieces not yet acknowledged are held in memory.
 */
import type { TrickleClient } from './api.js';
import { ChunkSender } from './chunk-sender.js';
import { TrickleApiError, TrickleUploadError } from './errors.js';
import { InFlight } from './in-flight.js';
import { ProgressMeter } from './progress.js';
import type { Attachment, ByteRange } from './types.js';
import { clientFor, settle, stoppable, type UploadOptions, type UploadResult } from './upload.js';

/** One piece of a growing source. */
export type SourcePiece = Blob | Uint8Array | ArrayBuffer;

/** A source of unknown length: pieces in order, until it ends. */
export type GrowingSource = ReadableStream<SourcePiece> | AsyncIterable<SourcePiece>;

export function isGrowingSource(value: unknown): value is GrowingSource {
  if (typeof value !== 'object' || value === null) return false;
  return typeof (value as ReadableStream).getReader === 'function' || typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

async function toBytes(piece: SourcePiece): Promise<Uint8Array> {
  if (piece instanceof Uint8Array) return piece;
  if (piece instanceof ArrayBuffer) return new Uint8Array(piece);
  if (typeof Blob !== 'undefined' && piece instanceof Blob) return new Uint8Array(await piece.arrayBuffer());
  throw new TypeError('a growing source must yield Blobs, Uint8Arrays or ArrayBuffers');
}

/** The pieces of either kind of source, as bytes. Safari's ReadableStream is not async-iterable, hence the reader. */
async function* piecesOf(source: GrowingSource): AsyncGenerator<Uint8Array> {
  if (!('getReader' in source)) {
    for await (const piece of source) yield await toBytes(piece);
    return;
  }
  const reader = source.getReader();
  let finished = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        finished = true;
        return;
      }
      yield await toBytes(next.value);
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Whether [start, end) lies inside one of `ranges` (sorted, merged). */
function covered(ranges: ByteRange[], start: number, end: number): boolean {
  return ranges.some(([from, to]) => from <= start && end <= to);
}

export async function uploadGrowing(source: GrowingSource, options: UploadOptions = {}): Promise<UploadResult> {
  return new GrowingUploadRun(source, options).run();
}

class GrowingUploadRun {
  private readonly source: GrowingSource;
  private readonly options: UploadOptions;

  private readonly client: TrickleClient;
  private readonly chunks: ChunkSender;
  private readonly stop = new AbortController();
  private readonly meter = new ProgressMeter(0, 0);
  private latest: Attachment | null = null;

  constructor(
    source: GrowingSource,
    options: UploadOptions,
  ) {
    this.source = source;
    this.options = options;
    this.client = clientFor(options);
    this.chunks = new ChunkSender(this.client, options, this.stop.signal);
  }

  run(): Promise<UploadResult> {
    return stoppable(this.stop, this.options.signal, () => this.upload());
  }

  private async upload(): Promise<UploadResult> {
    const { attachment: opened, resumed } = await this.open();
    this.latest = opened;
    await this.options.onAttachment?.(opened);
    // Ranges the server had before (a resumed upload of a source read again from its start).
    const present = resumed ? opened.ranges : [];
    const id = opened.id;
    const fingerprint = this.chunks.sha1();
    const inFlight = new InFlight(Math.max(1, Math.floor(this.options.concurrency ?? 4)), this.stop);
    let size = 0;
    try {
      for await (const piece of piecesOf(this.source)) {
        fingerprint.update(piece);
        // A large piece goes in several chunks; a small one (a second of audio) as it is.
        for (let start = 0; start < piece.byteLength; ) {
          const length = Math.min(this.chunks.sizer.current, piece.byteLength - start);
          const offset = size + start;
          this.progress(size + start + length, false);
          if (!covered(present, offset, offset + length)) {
            await inFlight.slot();
            inFlight.start(this.sendChunk(id, offset, piece.subarray(start, start + length)));
          }
          start += length;
        }
        size += piece.byteLength;
      }
    } catch (error) {
      this.stop.abort(error);
      await inFlight.drain().catch(() => undefined);
      throw error;
    }
    await inFlight.drain();
    if (size === 0) throw new TrickleUploadError('the source ended without a byte');
    this.progress(size, true);

    if (this.latest.size !== size) this.observe(await this.chunks.retrying(() => this.client.setAttachmentSize(id, size, { signal: this.stop.signal })));
    const attachment = this.latest.complete ? this.latest : await settle(() => this.chunks.retrying(() => this.client.attachment(id, { signal: this.stop.signal })), this.stop.signal, (a) => this.observe(a));
    if (!attachment.complete) throw new TrickleUploadError(`attachment ${id} still lacks ${JSON.stringify(attachment.missing)} after the source ended`);
    const sha1 = fingerprint.digest();
    if (attachment.sha1 !== sha1) throw new TrickleUploadError(`the server's copy has SHA1 ${attachment.sha1}, the source had ${sha1}`);
    return { attachmentId: id, fingerprint: sha1, size, attachment, bytesSent: this.chunks.bytesSent, resumed };
  }

  /** The attachment to continue (one of unknown size, or whose size is fixed, still open), or a new one without a size. */
  private async open(): Promise<{ attachment: Attachment; resumed: boolean }> {
    const { attachmentId } = this.options;
    if (attachmentId !== undefined) {
      try {
        const existing = await this.chunks.retrying(() => this.client.attachment(attachmentId, { signal: this.stop.signal }));
        if (existing.state !== 'used') return { attachment: existing, resumed: true };
      } catch (error) {
        if (!(error instanceof TrickleApiError && error.status === 404)) throw error;
      }
    }
    const created = await this.chunks.retrying(() => this.client.createAttachment(undefined, this.options.filename ?? 'recording', { signal: this.stop.signal }));
    return { attachment: created, resumed: false };
  }

  private async sendChunk(id: number, offset: number, bytes: Uint8Array): Promise<void> {
    this.observe(await this.chunks.send(id, offset, bytes));
  }

  private progress(total: number, ended: boolean): void {
    this.options.onProgress?.(this.meter.grow(total, ended));
  }

  private observe(attachment: Attachment): void {
    if (this.latest === null || attachment.received_bytes >= this.latest.received_bytes) this.latest = attachment;
    this.options.onProgress?.(this.meter.update(attachment.received_bytes));
  }
}
