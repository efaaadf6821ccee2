/**
 * Uploading a source whose length is not known until it ends: a recording in progress
 * (MediaRecorder's `dataavailable` Blobs), standard input, a file still being written.
 * The attachment is created without a size (SPEC 3.8); every piece is sent as soon as it
 * arrives, at its offset (chunk-pipeline.ts: several at once, resent after a cut, waiting out
 * a lost network), and fingerprinted on the way. When the source ends, its last bytes carry
 * the size, or the size goes alone at once, and the server's SHA1 is checked against ours.
 * Bytes are held in memory until the server has them (a resend needs them), and the source is
 * read ahead of the link by at most MAX_UNSENT bytes.
 */
import { covers, lacking } from './byte-ranges.js';
import { ChunkPipeline, type Chunk, type ChunkFeed } from './chunk-pipeline.js';
import { TrickleApiError, TrickleUploadError } from './errors.js';
import { ProgressMeter } from './progress.js';
import { sleep } from './retry.js';
import type { Attachment, ByteRange } from './types.js';
import { clientFor, settle, type UploadOptions, type UploadResult } from './upload.js';
import { UploadSession } from './upload-session.js';

/** One piece of a growing source. */
export type SourcePiece = Blob | Uint8Array | ArrayBuffer;

/** A source of unknown length: pieces in order, until it ends. */
export type GrowingSource = ReadableStream<SourcePiece> | AsyncIterable<SourcePiece>;

/** How long a piece waits to learn whether it is the last (a recorder ends right after its last piece), so that it can carry the size. */
const LAST_PIECE_GRACE_MS = 25;
/** Bytes read from the source but not sent yet, beyond which reading waits for the link. */
const MAX_UNSENT = 16 * 1024 * 1024;
const MAX_ROUNDS = 5;

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

export async function uploadGrowing(source: GrowingSource, options: UploadOptions = {}): Promise<UploadResult> {
  return new GrowingUploadRun(source, options).run();
}

/** The bytes read so far, held until the server has them; new ones given out in order as chunks. */
class PieceBuffer implements ChunkFeed {
  private readonly pieces: Array<{ start: number; bytes: Uint8Array }> = [];
  /** Bytes the source gave so far. */
  received = 0;
  /** Bytes [0, given) were given out as chunks (or were on the server already). */
  given = 0;
  ended = false;
  private notify: () => void = () => undefined;
  private ready = new Promise<void>((resolve) => (this.notify = resolve));

  /** Ranges the server had before (a resumed upload of a source read again from its start). */
  private readonly present: readonly ByteRange[];

  constructor(present: readonly ByteRange[]) {
    this.present = present;
  }

  get exhausted(): boolean {
    return this.ended && this.given >= this.received;
  }

  append(bytes: Uint8Array): void {
    this.pieces.push({ start: this.received, bytes });
    this.received += bytes.byteLength;
    this.wakeUp();
  }

  end(): void {
    this.ended = true;
    this.wakeUp();
  }

  async next(maxBytes: number): Promise<Chunk | null> {
    const [gap] = lacking(this.given, this.received, this.present);
    if (gap === undefined) {
      this.given = this.received;
      return null;
    }
    const [start, gapEnd] = gap;
    const end = Math.min(gapEnd, start + maxBytes);
    this.given = end;
    return { start, bytes: this.gather(start, end) };
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  async reread(start: number, end: number): Promise<Uint8Array> {
    return this.gather(start, end);
  }

  /** The server holds `held`: pieces inside it that were given out need not be kept. */
  release(held: readonly ByteRange[]): void {
    for (let index = this.pieces.length - 1; index >= 0; index -= 1) {
      const { start, bytes } = this.pieces[index]!;
      const end = start + bytes.byteLength;
      if (end <= this.given && covers(held, start, end)) this.pieces.splice(index, 1);
    }
  }

  /** Bytes [start, end), a view when one piece holds them all. */
  private gather(start: number, end: number): Uint8Array {
    const parts = this.pieces.filter((p) => p.start < end && p.start + p.bytes.byteLength > start);
    const only = parts[0];
    if (parts.length === 1 && only) return only.bytes.subarray(start - only.start, end - only.start);
    const bytes = new Uint8Array(end - start);
    let filled = 0;
    for (const part of parts) {
      const from = Math.max(start, part.start);
      const to = Math.min(end, part.start + part.bytes.byteLength);
      bytes.set(part.bytes.subarray(from - part.start, to - part.start), from - start);
      filled += to - from;
    }
    if (filled !== end - start) throw new Error(`bytes ${start}-${end} are no longer held`);
    return bytes;
  }

  private wakeUp(): void {
    this.notify();
    this.ready = new Promise<void>((resolve) => (this.notify = resolve));
  }
}

class GrowingUploadRun {
  private readonly session: UploadSession;
  private size: number | null = null;
  private readonly pipeline: ChunkPipeline;
  private readonly source: GrowingSource;
  private readonly options: UploadOptions;

  constructor(source: GrowingSource, options: UploadOptions) {
    this.source = source;
    this.options = options;
    this.session = new UploadSession(clientFor(options), options);
    this.pipeline = new ChunkPipeline(this.session, () => this.size, options.onChunkAcknowledged);
  }

  run(): Promise<UploadResult> {
    return this.session.run(() => this.upload());
  }

  private async upload(): Promise<UploadResult> {
    const { session } = this;
    const meter = (session.meter = new ProgressMeter(0, 0));
    const { attachment: opened, resumed } = await this.open();
    session.latest = opened;
    await this.options.onAttachment?.(opened);
    const buffer = new PieceBuffer(resumed ? opened.ranges : []);
    session.seen = (attachment) => buffer.release(attachment.ranges);
    const fingerprint = session.sha1();

    const reading = this.read(buffer, (bytes) => {
      fingerprint.update(bytes);
      this.options.onProgress?.(meter.grow(buffer.received, false));
    });
    // The link runs while the source is read; the size goes alone if no chunk is left to carry it.
    const sending = this.pipeline.run(buffer);
    const sizing = reading.then(() => {
      if (buffer.received === 0) throw new TrickleUploadError('the source ended without a byte');
      this.options.onProgress?.(meter.grow(buffer.received, true));
      return buffer.given >= buffer.received ? this.fixSize() : undefined;
    });
    await Promise.all([sending, sizing]);
    const size = buffer.received;
    if (session.fixedSize !== size) await this.fixSize();

    let attachment = await settle(session);
    for (let round = 1; !attachment.complete; round += 1) {
      if (round === MAX_ROUNDS) throw new TrickleUploadError(`attachment ${opened.id} still lacks ${JSON.stringify(attachment.missing)} after the source ended`);
      this.pipeline.resend(attachment.missing);
      await this.pipeline.run(buffer);
      attachment = await settle(session);
    }
    const sha1 = fingerprint.digest();
    if (attachment.sha1 !== sha1) throw new TrickleUploadError(`the server's copy has SHA1 ${attachment.sha1}, the source had ${sha1}`);
    return { attachmentId: opened.id, fingerprint: sha1, size, attachment, bytesSent: this.pipeline.bytesSent, resumed };
  }

  /**
   * Reads the source into `buffer`. Each piece waits a moment to learn whether it is the last,
   * so that the size can go with it; reading waits while too much is not sent yet.
   */
  private async read(buffer: PieceBuffer, onPiece: (bytes: Uint8Array) => void): Promise<void> {
    const { stop } = this.session;
    const pieces = piecesOf(this.source);
    try {
      let next = pieces.next();
      for (;;) {
        const current = await next;
        if (current.done) break;
        next = pieces.next();
        const last = await Promise.race([next.then((r) => r.done === true), sleep(LAST_PIECE_GRACE_MS, stop.signal).then(() => false)]);
        if (current.value.byteLength === 0) continue;
        if (last) this.size = buffer.received + current.value.byteLength;
        buffer.append(current.value);
        onPiece(current.value);
        while (buffer.received - buffer.given > MAX_UNSENT) await Promise.race([buffer.whenReady(), sleep(100, stop.signal)]);
      }
      this.size = buffer.received;
    } catch (error) {
      this.session.stop.abort(error);
      throw error;
    } finally {
      buffer.end();
      // Not awaited: a read still pending (a recorder that goes on) would hold it up.
      void pieces.return(undefined).catch(() => undefined);
    }
  }

  private async fixSize(): Promise<void> {
    const { session } = this;
    const size = this.size!;
    session.observe(await session.small((limits) => session.client.setAttachmentSize(session.attachmentId, size, limits)));
  }

  /** The attachment to continue (one of unknown size, or whose size is fixed, still open), or a new one without a size. */
  private async open(): Promise<{ attachment: Attachment; resumed: boolean }> {
    const { session } = this;
    const { attachmentId } = this.options;
    if (attachmentId !== undefined) {
      try {
        const existing = await session.small((limits) => session.client.attachment(attachmentId, limits));
        if (existing.state !== 'used') return { attachment: existing, resumed: true };
      } catch (error) {
        if (!(error instanceof TrickleApiError && error.status === 404)) throw error;
      }
    }
    const created = await session.small((limits) => session.client.createAttachment(undefined, this.options.filename ?? 'recording', limits));
    return { attachment: created, resumed: false };
  }
}
