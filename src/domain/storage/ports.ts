/**
 * What the domain asks of blob storage: finished files (clips' and messages' audio and
 * images), the bytes of uploads, scratch files, and the orphan sweep's records. The local
 * disk (src/storage/local-disk-store.ts) and S3 (src/storage/s3-store.ts) implement it; a
 * store says once, by its `kind`, how it keeps uploads.
 */

/**
 * Positional access to one upload's bytes, for stores that write uploads in place at
 * their offsets (local disk). Writes and reads name explicit positions and nothing else.
 */
export interface UploadHandle {
  /** Writes all of data at position, or throws. */
  write(data: Buffer, position: number): Promise<void>;
  /** Writes all of the buffers, one after another, from position on, or throws. */
  writev(data: Buffer[], position: number): Promise<void>;
  /** Reads up to length bytes at position into buffer; resolves the count read. */
  read(buffer: Buffer, position: number, length: number): Promise<number>;
  /** Makes every write so far durable (survives a crash of the process and the OS). */
  sync(): Promise<void>;
  /** Sets the length: drops bytes from `length` on, or extends with zeros. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** A node-local temporary file for bytes whose place is not known yet; gone after discard(). */
export interface ScratchFile extends UploadHandle {
  discard(): Promise<void>;
}

/** A stretch of a piece blob: bytes [start, end) of the file come from `key` at `pieceOffset`. */
export interface PieceSlice {
  key: string;
  /** Where the slice starts inside its piece blob. */
  pieceOffset: number;
  start: number;
  end: number;
}

/** A piece on its way to the store while its bytes arrive (PieceStore.streamPiece). */
export interface PieceStream {
  /** Resolves when the store can take more (backpressure); rejects if the transfer failed. */
  write(bytes: Buffer): Promise<void>;
  /** After the last byte: resolves the new blob's key once it is stored durably. */
  finish(): Promise<string>;
  /** Gives up: whatever was sent is not kept. */
  abort(): Promise<void>;
}

/**
 * The `code` of an error by which a store says it did not answer in time or is failing (an
 * object store that is down or frozen); the HTTP layer answers 503 `storage_unavailable`.
 */
export const STORAGE_UNAVAILABLE = 'STORAGE_UNAVAILABLE';

/**
 * What every store does, whatever its kind. Any call may fail with an error whose `code` is
 * STORAGE_UNAVAILABLE when the store does not answer in time.
 */
export interface BlobStoreCore {
  /** Blobs are files with paths that tools may open directly: localPath() names them. */
  readonly localPaths: boolean;
  /** A node-local scratch file (for staging bytes whose fate is not decided yet). */
  createScratch(): Promise<ScratchFile>;
  /** Turns a scratch file into a blob under a new key (without copying where the store can); resolves the key. */
  adoptScratch(scratch: ScratchFile): Promise<string>;
  /**
   * Streams bytes [start, end) of a blob (all of it by default). A blob that does not exist
   * fails the stream with an error whose `code` is 'ENOENT', whatever the store.
   */
  openRead(key: string, range?: { start: number; end: number }): NodeJS.ReadableStream;
  /** Runs fn with a local file holding the blob (the blob itself where localPaths, else a temporary copy). */
  withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T>;
  /** The blob's own path where localPaths, else null. */
  localPath(key: string): string | null;
  /** Deletes a blob; a missing one is not an error. */
  deleteBlob(key: string): Promise<void>;
  /** Deletes many blobs, in as few requests as the store allows; missing ones are not an error. */
  deleteBlobs(keys: string[]): Promise<void>;
  /** Bytes still free for new data, or null when the store cannot tell. */
  freeBytes(): Promise<number | null>;
  /** Resolves when the store answers (readiness): the disk's folder is there, the bucket answers a HEAD. */
  check(signal: AbortSignal): Promise<void>;
  /** Every blob, with when it was last written (epoch ms). */
  listBlobs(): AsyncIterable<{ key: string; modifiedAt: number }>;
  /** Gives up store-side work abandoned before `before` (an object store's unfinished multipart uploads); resolves how many. */
  sweepAbandoned(before: number): Promise<number>;
  /** Stores the file at `sourcePath` as the blob `key` (restoring a backup); the caller makes sure no blob has that key. */
  importBlob(key: string, sourcePath: string): Promise<void>;
  /** The highest orphan-sweep epoch recorded in the store, or null (restore detection: OrphanSweeper). */
  latestEpoch(): Promise<number | null>;
  /** Records durably that the database reached `epoch`; records of much older epochs may go. */
  recordEpoch(epoch: number): Promise<void>;
  /** Releases what the store holds open; called once requests have finished. */
  close(): Promise<void>;
}

/** A store that writes uploads in place: one blob of the final size, written at its offsets (local disk). */
export interface InPlaceStore extends BlobStoreCore {
  readonly kind: 'inPlace';
  /** Creates a blob of `size` bytes (zeros) under a new key, durably; resolves the key. */
  createUpload(size: number): Promise<string>;
  openUpload(key: string): Promise<UploadHandle>;
}

/**
 * A store that keeps uploads as pieces (object stores, which cannot write at offsets): every
 * accepted chunk is a blob of its own, and the file is assembled from them once complete.
 */
export interface PieceStore extends BlobStoreCore {
  readonly kind: 'pieces';
  /** Stores the first `length` bytes of a scratch file as a new blob, durably; resolves its key. */
  putPiece(scratch: ScratchFile, length: number): Promise<string>;
  /**
   * Starts storing a new blob of exactly `length` bytes that are written as they arrive, so
   * the transfer to the store overlaps the request's own. Optional: a store without it gets
   * the piece from the scratch file afterwards.
   */
  streamPiece?(length: number): PieceStream;
  /** Makes one new blob of the slices, in order, copying inside the store where it can; a missing piece rejects with code 'ENOENT'. */
  assemble(slices: PieceSlice[]): Promise<string>;
}

/** Blob storage of either kind; code that depends on how uploads are kept asks `kind`. */
export type BlobStore = InPlaceStore | PieceStore;
