/**
 * Receives one chunk as a piece of its own, for stores that cannot write at offsets (object
 * storage). The bytes are staged in a node-local scratch file as they arrive (so a cut-off
 * chunk keeps its prefix and a chunk of unknown length needs no buffer), compared with the
 * recorded bytes they overlap, stored as one blob, and only then recorded. Pieces never
 * change each other's bytes, so no node needs to hold any lock while they travel.
 *
 * A chunk of declared length also streams to the store as it arrives, when the store can take
 * a stream, so that transfer overlaps the client's; if it fails, the scratch file is stored.
 */
import { createHash, type Hash } from 'node:crypto';
import type { AttachmentRecord } from './ports.js';
import type { PieceStore, PieceStream, ScratchFile } from '../storage/ports.js';
import { readHandle } from '../storage/read-handle.js';
import type { ChunkReceiver, ChunkWriteResult, ConsumeOptions, PreparedChunk } from './chunk-receiver.js';
import { CoalescingWriter } from './coalescing-writer.js';
import { intersect } from './ranges.js';
import type { LocalBytes } from './upload-state.js';
import { isMissingBlob, UploadBytes } from './upload-bytes.js';

/** Readings of the recorded bytes a chunk is compared with before a vanishing piece is an error. */
const COMPARE_READINGS = 4;

interface Comparison {
  differs: boolean;
  /** The newest piece the comparison saw. */
  through: number;
  ofCompleteFile: boolean;
}

export class PieceReceiver implements ChunkReceiver {
  private readonly store: PieceStore;
  private readonly bytes: UploadBytes;
  private readonly record: AttachmentRecord;
  private readonly offset: number;

  private scratch: ScratchFile | null = null;
  private written = 0;
  /** The piece sent while it arrived: its key once stored (null if that failed). */
  private streamed: Promise<string | null> | null = null;
  /** The piece the chunk became, once stored. */
  private storedKey: string | null = null;
  /** The stored piece is recorded, so the upload's: close() must not delete it. */
  private kept = false;

  constructor(
    store: PieceStore,
    bytes: UploadBytes,
    record: AttachmentRecord,
    offset: number,
  ) {
    this.store = store;
    this.bytes = bytes;
    this.record = record;
    this.offset = offset;
  }

  async consume(source: AsyncIterable<Buffer>, options: ConsumeOptions): Promise<ChunkWriteResult> {
    const hash: Hash | null = options.hashChunk ? createHash('sha1') : null;
    const bound = this.record.size ?? options.unknownSizeLimit;
    let outOfRange = false;
    let sourceError: unknown = null;
    const scratch = (this.scratch = await this.store.createScratch());
    const declared = options.declaredLength;
    let stream: PieceStream | null =
      declared !== undefined && declared > 0 && this.offset + declared <= bound && this.store.streamPiece ? this.store.streamPiece(declared) : null;
    const send = async (piece: Buffer) => {
      // A failed transfer only costs the overlap: the scratch file is stored instead.
      await stream?.write(piece).catch(() => {
        void stream?.abort();
        stream = null;
      });
    };
    // The scratch copy is written behind the transfer: the loop waits for the disk only when
    // much is queued, so that the store, not each write's trip to the thread pool, paces it.
    const copies = new CoalescingWriter(scratch, 0);
    let received = 0;
    try {
      for await (const piece of source) {
        if (piece.length === 0) continue;
        if (this.offset + received + piece.length > bound) {
          outOfRange = true;
          break;
        }
        await copies.add(piece);
        await send(piece);
        hash?.update(piece);
        received += piece.length;
      }
    } catch (error) {
      sourceError = error;
    }
    // Only bytes in the scratch copy count; a failed write ends the chunk there.
    sourceError ??= await copies.flush().then(
      () => null,
      (error: unknown) => error,
    );
    this.written = copies.writtenUpTo;
    const current = stream as PieceStream | null;
    if (current) {
      if (sourceError === null && !outOfRange && this.written === declared) this.streamed = current.finish().catch(() => null);
      else await current.abort();
    }
    return { written: this.written, outOfRange, sourceError, digest: hash && this.written === received ? hash.digest('hex') : null };
  }

  async digestWritten(end: number): Promise<string> {
    const hash = createHash('sha1');
    for await (const part of this.readScratch(0, end - this.offset)) hash.update(part);
    return hash.digest('hex');
  }

  /**
   * The scratch copy of the stored piece, handed over (hashing it needs no download): close()
   * leaves it to the taker, who deletes it with release().
   */
  takeLocalSource(): LocalBytes | null {
    const scratch = this.scratch;
    if (!scratch || this.written === 0 || this.storedKey === null) return null;
    this.scratch = null;
    const offset = this.offset;
    return {
      start: offset,
      end: offset + this.written,
      pieceKey: this.storedKey,
      read: (start, end) => readHandle(scratch, start - offset, end - offset),
      release: () => scratch.discard(),
    };
  }

  /** Compares the chunk with the recorded bytes it overlaps, then stores it as a piece (if it changes anything). */
  async prepare(end: number): Promise<PreparedChunk> {
    const length = end - this.offset;
    const compared = await this.compareWithRecorded(end);
    // A repeat of bytes of a file already complete (a retried last chunk) stores nothing.
    // (A complete file's bytes are all recorded, so such a chunk overlaps nothing but them.)
    if (compared?.ofCompleteFile && !compared.differs) return { change: { changesRecorded: false }, replaces: false, ordered: false };
    // The piece streamed as it arrived, if that worked (it covers the whole chunk); else the scratch copy.
    const storageKey = (await this.streamed) ?? (await this.store.putPiece(this.scratch!, length));
    this.storedKey = storageKey;
    return {
      change: { changesRecorded: compared?.differs ?? false, piece: { storageKey, compared: compared !== null, comparedThrough: compared?.through ?? 0 } },
      replaces: false,
      ordered: false,
    };
  }

  async applyReplacements(): Promise<void> {
    // Pieces never change each other's bytes: nothing is parked.
  }

  recorded(): void {
    this.kept = true;
  }

  /**
   * Compares the chunk with the recorded bytes it overlaps, as of one reading. Null when it
   * overlaps none (the database still counts a piece committed meanwhile as a change).
   */
  private async compareWithRecorded(end: number): Promise<Comparison | null> {
    if (intersect(this.record.ranges, this.offset, end).length === 0) return null;
    // A piece read may be deleted meanwhile (another node completed the upload): read again.
    for (let reading = 1; ; reading += 1) {
      try {
        return await this.compareWithReading(end);
      } catch (error) {
        if (!isMissingBlob(error) || reading >= COMPARE_READINGS) throw error;
      }
    }
  }

  private async compareWithReading(end: number): Promise<Comparison | null> {
    const snapshot = await this.bytes.snapshot(this.record);
    if (!snapshot) return null;
    const overlap = intersect(snapshot.record.ranges, this.offset, end);
    const through = snapshot.pieces.at(-1)?.id ?? 0;
    const ofCompleteFile = snapshot.record.state !== 'uploading';
    for (const [start, stop] of overlap) {
      if (!(await sameBytes(snapshot.source.read(start, stop), this.readScratch(start - this.offset, stop - this.offset)))) {
        return { differs: true, through, ofCompleteFile };
      }
    }
    return { differs: false, through, ofCompleteFile };
  }

  /** Bytes [from, to) of the chunk, counted from its start, as staged. */
  private readScratch(from: number, to: number): AsyncGenerator<Buffer> {
    return readHandle(this.scratch!, from, to);
  }

  releaseRegion(): void {
    // Pieces hold no regions.
  }

  async close(): Promise<void> {
    await this.scratch?.discard();
    this.scratch = null;
    // Stored (or streamed) but refused or not recorded: nobody's (the orphan sweep would find it later anyway).
    const stored = this.kept ? null : (this.storedKey ?? (await this.streamed));
    if (stored) await this.store.deleteBlob(stored).catch(() => undefined);
  }
}

/** Whether two streams carry the same bytes, compared as they come (no whole copy of either). */
async function sameBytes(a: AsyncIterable<Buffer>, b: AsyncIterable<Buffer>): Promise<boolean> {
  const left = a[Symbol.asyncIterator]();
  const right = b[Symbol.asyncIterator]();
  let l: Buffer = Buffer.alloc(0);
  let r: Buffer = Buffer.alloc(0);
  try {
    for (;;) {
      if (l.length === 0) {
        const next = await left.next();
        l = next.done ? Buffer.alloc(0) : next.value;
        if (next.done) {
          if (r.length > 0) return false;
          const rest = await right.next();
          return rest.done === true || rest.value.length === 0;
        }
      }
      if (r.length === 0) {
        const next = await right.next();
        if (next.done) return false;
        r = next.value;
      }
      const n = Math.min(l.length, r.length);
      if (!l.subarray(0, n).equals(r.subarray(0, n))) return false;
      l = l.subarray(n);
      r = r.subarray(n);
    }
  } finally {
    await left.return?.();
    await right.return?.();
  }
}
