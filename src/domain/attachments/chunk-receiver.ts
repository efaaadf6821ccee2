/**
 * How one chunk's bytes reach an upload: in place (local disk, ChunkWriter) or as a piece
 * of their own (object storage, PieceReceiver). The upload engine drives either the same
 * way: consume the bytes, verify them, commit them, then let go.
 */
import type { AttachmentRecord, RangeCommit } from '../ports.js';
import type { LocalBytes } from './upload-state.js';

export interface ChunkWriteResult {
  /** Bytes consumed from the source and placed (the written prefix of the chunk). */
  written: number;
  /** True when the source delivered more bytes than fit before the end of the file. */
  outOfRange: boolean;
  /** The error that cut the source off, if it did not end normally. */
  sourceError: unknown;
  /** SHA1 of the bytes written, when it was asked for up front. */
  digest: string | null;
}

export interface ConsumeOptions {
  declaredLength: number | undefined;
  hashChunk: boolean;
  signal: AbortSignal | undefined;
  /** Where bytes must end while the size is unknown (the maximum size). */
  unknownSizeLimit: number;
}

/** What the engine does inside a receiver's commit, once the bytes are durable. */
export interface CommitSteps {
  /** Records the range in the database; resolves the row afterwards. */
  record(change: Omit<RangeCommit, 'start' | 'end'>): Promise<{ record: AttachmentRecord; bumped: boolean }>;
  /** Before bytes already received are replaced in place: throws if the attachment is complete. */
  ensureUploading(): Promise<void>;
}

export interface ChunkReceiver {
  /** Consumes the source; never throws for a source that breaks off (reported in the result). */
  consume(source: AsyncIterable<Buffer>, options: ConsumeOptions): Promise<ChunkWriteResult>;
  /** SHA1 of the chunk's bytes [offset, end) as they will be recorded (a checksum that came after them). */
  digestWritten(end: number): Promise<string>;
  /** Makes [offset, end) durable and part of the upload, recording it through `steps`. */
  commit(end: number, steps: CommitSteps): Promise<{ record: AttachmentRecord; bumped: boolean }>;
  /** Where this request's bytes can be read cheaply while it lasts, for hashing them; null if nowhere. */
  localSource(): LocalBytes | null;
  /** Lets other writers into the chunk's region (once its bytes are recorded). */
  releaseRegion(): void;
  close(): Promise<void>;
}
