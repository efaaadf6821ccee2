/**
 * Reading an upload's bytes as they stand, whichever way the store keeps them: in place in
 * one blob, or as pieces where the newest piece covering a byte holds it.
 */
import type { AttachmentRecord, AttachmentRepository, ByteSource, PieceRecord } from './ports.js';
import type { BlobStore, PieceSlice } from '../storage/ports.js';
import { intersect, removeRange, type ByteRange } from './ranges.js';

/** A reading of an upload: the content version it shows, and its bytes. */
export interface UploadSnapshot {
  record: AttachmentRecord;
  source: ByteSource;
  /** Piece stores: the pieces read, oldest first. */
  pieces: PieceRecord[];
  /**
   * True when reads show the bytes as they are at the moment of reading (an upload written in
   * place) rather than as of `record`'s content version (pieces, a finished file).
   */
  live: boolean;
}

/** Whether the piece `key` holds every byte of [from, to) in a reading of pieces. */
export function heldBy(snapshot: UploadSnapshot, key: string, from: number, to: number): boolean {
  if (snapshot.pieces.length === 0) return false;
  return sliceLayout(snapshot.pieces, from, to).every((slice) => slice.key === key);
}

/** Which piece holds each byte of [from, to), in order: newer pieces cover older ones. */
export function sliceLayout(pieces: PieceRecord[], from: number, to: number): PieceSlice[] {
  const slices: PieceSlice[] = [];
  let uncovered: ByteRange[] = from < to ? [[from, to]] : [];
  for (let i = pieces.length - 1; i >= 0 && uncovered.length > 0; i -= 1) {
    const piece = pieces[i]!;
    for (const [start, end] of intersect(uncovered, piece.start, piece.end)) {
      slices.push({ key: piece.storageKey, pieceOffset: start - piece.start, start, end });
    }
    uncovered = removeRange(uncovered, piece.start, piece.end);
  }
  if (uncovered.length > 0) throw new Error(`no piece holds bytes [${uncovered[0]![0]}, ${uncovered[0]![1]})`);
  return slices.sort((a, b) => a.start - b.start);
}

async function* readSlices(store: BlobStore, slices: PieceSlice[]): AsyncGenerator<Buffer> {
  for (const slice of slices) {
    const length = slice.end - slice.start;
    let read = 0;
    for await (const piece of store.openRead(slice.key, { start: slice.pieceOffset, end: slice.pieceOffset + length }) as AsyncIterable<Buffer>) {
      read += piece.length;
      yield piece;
    }
    if (read !== length) throw new Error(`piece ${slice.key} gave ${read} of ${length} bytes`);
  }
}

/** A blob that is not there (deleted after it was looked up): the port's 'ENOENT'. */
export function isMissingBlob(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/** Readings of a row and its pieces that disagree (pieces deleted in between) before one is given up. */
const LAYOUT_READINGS = 4;

export class UploadBytes {
  private readonly repo: AttachmentRepository;
  private readonly store: BlobStore;

  constructor(
    repo: AttachmentRepository,
    store: BlobStore,
  ) {
    this.repo = repo;
    this.store = store;
  }

  /** The bytes of a blob as a hasher or sniffer reads them. */
  blobSource(key: string): ByteSource {
    return {
      localPath: this.store.localPath(key),
      read: (start, end) => this.store.openRead(key, { start, end }) as AsyncIterable<Buffer>,
    };
  }

  /**
   * A consistent reading of an upload. In place, the blob is the upload (the caller holds
   * regions it must not see change); with pieces, the pieces are read after the row, so they
   * are at least as new as its content version: bytes newer than that version only make a
   * completion with it fail, never a SHA1 kept for bytes it was not computed on.
   */
  async snapshot(record: AttachmentRecord): Promise<UploadSnapshot | null> {
    if (this.store.kind !== 'pieces' || record.state !== 'uploading') {
      return { record, source: this.blobSource(record.storageKey), pieces: [], live: record.state === 'uploading' };
    }
    for (let reading = 1; ; reading += 1) {
      const layout = await this.repo.findLayout(record.id);
      if (!layout) return null;
      if (layout.record.state !== 'uploading') return { record: layout.record, source: this.blobSource(layout.record.storageKey), pieces: [], live: false };
      // Pieces that do not hold every recorded byte were deleted after the row was read (the
      // upload completed or was deleted meanwhile): read again to see which.
      if (uncovered(layout.record.ranges, layout.pieces) && reading < LAYOUT_READINGS) continue;
      return this.piecesSnapshot(layout.record, layout.pieces);
    }
  }

  private piecesSnapshot(record: AttachmentRecord, pieces: PieceRecord[]): UploadSnapshot {
    return {
      record,
      pieces,
      live: false,
      source: { localPath: null, read: (start, end) => readSlices(this.store, sliceLayout(pieces, start, end)) },
    };
  }

  /** Up to `length` bytes from the start of a source (fewer where it is shorter). */
  static async head(source: ByteSource, available: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of source.read(0, Math.min(available, length))) parts.push(part);
    return Buffer.concat(parts);
  }
}

/** Whether some recorded byte is held by none of the pieces. */
function uncovered(ranges: ByteRange[], pieces: PieceRecord[]): boolean {
  let left = ranges;
  for (const piece of pieces) left = removeRange(left, piece.start, piece.end);
  return left.length > 0;
}
