/**
 * Streams one chunk's bytes to their place in an upload.
 *
 * Bytes bound for a region nobody has recorded yet are written in place at once.
 * Bytes bound for a recorded region are compared with what is there: equal bytes
 * (the usual retry) need no write at all; different bytes are parked in a scratch
 * file and only applied if the chunk is accepted, so a chunk that fails (checksum,
 * range, a cut connection with a checksum) never changes bytes already received.
 */
import { createHash, type Hash } from 'node:crypto';
import type { BlobStore, ScratchFile, UploadHandle } from '../storage/ports.js';
import type { ChunkReceiver, ChunkWriteResult, ConsumeOptions, PreparedChunk } from './chunk-receiver.js';
import { addRange, intersect, type ByteRange } from './ranges.js';
import { ApiError } from '../errors.js';
import { RegionHold } from './region-locks.js';
import type { UploadState } from './upload-state.js';
import { CoalescingWriter } from './coalescing-writer.js';

export class InPlaceReceiver implements ChunkReceiver {
  private readonly state: UploadState;
  private readonly upload: UploadHandle;
  private readonly store: BlobStore;
  private readonly offset: number;

  readonly hold = new RegionHold();
  private scratch: ScratchFile | null = null;
  private replaced: ByteRange[] = [];
  private compareBuffer: Buffer | null = null;

  constructor(
    state: UploadState,
    upload: UploadHandle,
    store: BlobStore,
    offset: number,
  ) {
    this.state = state;
    this.upload = upload;
    this.store = store;
    this.offset = offset;
  }

  /**
   * Consumes the source, placing its bytes from `offset` on. Never throws for a
   * source that breaks off: that is reported in the result with what was written.
   */
  async consume(source: AsyncIterable<Buffer>, options: ConsumeOptions): Promise<ChunkWriteResult> {
    const { locks } = this.state;
    // Read afresh: a size fixed while this chunk waits for its region bounds it (SPEC 3.8).
    const bound = () => this.state.size ?? options.unknownSizeLimit;
    const hash: Hash | null = options.hashChunk ? createHash('sha1') : null;
    let position = this.offset;
    /** Where the hashed bytes end: the digest holds only if every one of them was written. */
    let hashedUpTo = this.offset;
    let outOfRange = false;
    let sourceError: unknown = null;

    // A raw body's length is known: claim the whole region at once.
    if (options.declaredLength !== undefined && options.declaredLength > 0) {
      await locks.acquire(this.hold, position, position + options.declaredLength, options.signal);
    }
    const writes = new CoalescingWriter(this.upload, position, options.releasePiece);
    const arrivals = new StaleAwareSource(source, this.hold);
    try {
      for (;;) {
        const piece = await arrivals.next();
        if (piece === null) break;
        if (piece.length === 0) continue;
        const end = position + piece.length;
        if (end > bound()) {
          outOfRange = true;
          break;
        }
        if (end > this.hold.end || this.hold.end === 0) {
          await locks.acquire(this.hold, this.hold.end === 0 ? position : this.hold.end, end, options.signal);
          if (end > bound()) {
            outOfRange = true;
            break;
          }
        }
        // Hashed before it is handed on: once written, a piece may be released (emptied).
        hash?.update(piece);
        hashedUpTo = end;
        if (intersect(this.state.ranges, position, end).length === 0) {
          // Bytes for a region nobody recorded: written in place, coalesced with what arrives meanwhile.
          await writes.add(piece);
        } else {
          await writes.flush();
          await this.place(piece, position);
          options.releasePiece?.(piece);
          writes.skipTo(end);
        }
        position = end;
      }
    } catch (error) {
      sourceError = error;
    } finally {
      await arrivals.close();
    }
    // Bytes fully received are written even when the source broke off after them.
    const writeError = await writes.flush().then(
      () => null,
      (error: unknown) => error,
    );
    sourceError ??= writeError;
    return {
      written: writes.writtenUpTo - this.offset,
      outOfRange,
      sourceError,
      digest: hash && writes.writtenUpTo === hashedUpTo ? hash.digest('hex') : null,
    };
  }

  /** Syncs the bytes written in place; bytes that replace recorded ones wait for applyReplacements. */
  async prepare(end: number): Promise<PreparedChunk> {
    const replaces = intersect(this.replaced, this.offset, end).length > 0;
    if (!replaces) await this.upload.sync();
    return { change: { changesRecorded: replaces }, replaces, ordered: true };
  }

  recorded(): void {
    // The bytes are in the upload's own file already.
  }

  takeLocalSource(): null {
    return null; // the bytes are in the upload's own file already
  }

  /** Writes parked replacements within [offset, end) into the upload, then syncs it. */
  async applyReplacements(end: number): Promise<void> {
    await this.writeReplacements(end);
    await this.upload.sync();
  }

  private async writeReplacements(end: number): Promise<void> {
    if (!this.scratch) return;
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (const [start, stop] of intersect(this.replaced, this.offset, end)) {
      for (let position = start; position < stop; ) {
        const length = Math.min(buffer.length, stop - position);
        const read = await this.scratch.read(buffer, position - this.offset, length);
        if (read !== length) throw new Error('scratch file shorter than expected');
        await this.upload.write(buffer.subarray(0, length), position);
        position += length;
      }
    }
  }

  /**
   * Streams back the chunk's bytes as they will be once applied (the upload's bytes
   * with replacements overlaid), for checking a checksum that arrived after them.
   */
  async digestWritten(end: number): Promise<string> {
    const hash = createHash('sha1');
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let position = this.offset;
    const parked = intersect(this.replaced, this.offset, end);
    const pieces: Array<[number, number, boolean]> = [];
    for (const [start, stop] of parked) {
      if (start > position) pieces.push([position, start, false]);
      pieces.push([start, stop, true]);
      position = stop;
    }
    if (position < end) pieces.push([position, end, false]);
    for (const [start, stop, fromScratch] of pieces) {
      for (let at = start; at < stop; ) {
        const length = Math.min(buffer.length, stop - at);
        const read = fromScratch
          ? await this.scratch!.read(buffer, at - this.offset, length)
          : await this.upload.read(buffer, at, length);
        if (read !== length) throw new Error('short read while checking a chunk');
        hash.update(buffer.subarray(0, length));
        at += length;
      }
    }
    return hash.digest('hex');
  }

  releaseRegion(): void {
    this.state.locks.release(this.hold);
  }

  /** Lets go of everything: the region, parked bytes and the upload handle it was given. */
  async close(): Promise<void> {
    this.releaseRegion();
    await this.scratch?.discard();
    this.scratch = null;
    await this.upload.close();
  }

  private async place(piece: Buffer, position: number): Promise<void> {
    const end = position + piece.length;
    const recorded = intersect(this.state.ranges, position, end);
    if (recorded.length === 0) {
      await this.upload.write(piece, position);
      return;
    }
    let cursor = position;
    for (const [start, stop] of recorded) {
      if (start > cursor) await this.upload.write(piece.subarray(cursor - position, start - position), cursor);
      await this.compareOrPark(piece.subarray(start - position, stop - position), start);
      cursor = stop;
    }
    if (cursor < end) await this.upload.write(piece.subarray(cursor - position), cursor);
  }

  private async compareOrPark(bytes: Buffer, position: number): Promise<void> {
    if (!this.compareBuffer || this.compareBuffer.length < bytes.length) {
      this.compareBuffer = Buffer.allocUnsafe(Math.max(bytes.length, 64 * 1024));
    }
    const existing = this.compareBuffer.subarray(0, bytes.length);
    const read = await this.upload.read(existing, position, bytes.length);
    if (read === bytes.length && existing.equals(bytes)) return;
    this.scratch ??= await this.store.createScratch();
    await this.scratch.write(bytes, position - this.offset);
    this.replaced = addRange(this.replaced, position, position + bytes.length);
  }
}

/**
 * A chunk's bytes as they arrive, telling its region hold when it waits for them, so that a
 * request that needs the region can cut it off when they stop coming (region-locks.ts).
 *
 * Each wait is its own promise, settled by the bytes or by the cut. (Racing every read against
 * one long-lived "cut" promise would leave a reaction on it per read, each holding that read's
 * buffer: a chunk's every buffer would stay reachable until the request ended, to be promoted
 * and freed only by full collections.)
 */
class StaleAwareSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly hold: RegionHold;
  /** Why the source was cut off, once it was: every later read fails with it. */
  private cutOff: ApiError | null = null;
  /** Fails the read under way, if one is. */
  private failWaiting: ((error: ApiError) => void) | null = null;
  private done = false;

  constructor(source: AsyncIterable<Buffer>, hold: RegionHold) {
    this.iterator = source[Symbol.asyncIterator]();
    this.hold = hold;
    hold.cut = () => {
      this.cutOff ??= new ApiError('request_timeout', 'The chunk stopped arriving, and another request needed its bytes.');
      this.failWaiting?.(this.cutOff);
    };
  }

  /** The next bytes, or null at the end. */
  async next(): Promise<Buffer | null> {
    if (this.cutOff) throw this.cutOff;
    this.hold.waitingForBytesSince = Date.now();
    try {
      const result = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
        this.failWaiting = reject;
        this.iterator.next().then(resolve, reject);
      });
      if (result.done) this.done = true;
      return result.done ? null : result.value;
    } finally {
      this.failWaiting = null;
      this.hold.waitingForBytesSince = null;
    }
  }

  /** Stops reading: a source left early (cut, or out of range) is told so. */
  async close(): Promise<void> {
    this.hold.cut = null;
    this.hold.waitingForBytesSince = null;
    if (this.done) return;
    this.done = true;
    // Not awaited: a source that never answers again must not hold this request up.
    void this.iterator.return?.()?.catch(() => undefined);
  }
}
