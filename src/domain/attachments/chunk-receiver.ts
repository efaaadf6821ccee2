/**
 * How one chunk's bytes reach an upload: in place (local disk, InPlaceReceiver) or as a piece
 * of their own (object storage, PieceReceiver). The upload engine drives either the same
 * way: consume the bytes, prepare them (durable), record them itself, then let go. Receivers
 * move bytes only; they never call back into the engine.
 */
import type { RangeCommit } from './ports.js';
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
  /** Told of each piece once its bytes are written (ChunkInput.releasePiece); receivers that keep pieces longer may not call it. */
  releasePiece?: ((piece: Buffer) => void) | undefined;
}

/** A chunk made durable and ready to be recorded (ChunkReceiver.prepare). */
export interface PreparedChunk {
  /** What recording it changes: bytes already recorded, and the piece it became (piece stores). */
  change: Pick<RangeCommit, 'changesRecorded' | 'piece'>;
  /**
   * In place: bytes parked to replace recorded ones, which applyReplacements writes once the
   * engine has checked the chunk may still change the upload.
   */
  replaces: boolean;
  /** Commits of this receiver's kind are recorded one at a time, in this process's order (in place). */
  ordered: boolean;
}

export interface ChunkReceiver {
  /** Consumes the source; never throws for a source that breaks off (reported in the result). */
  consume(source: AsyncIterable<Buffer>, options: ConsumeOptions): Promise<ChunkWriteResult>;
  /** SHA1 of the chunk's bytes [offset, end) as they will be recorded (a checksum that came after them). */
  digestWritten(end: number): Promise<string>;
  /** Makes [offset, end) durable (synced, or stored as a piece), ready to be recorded. */
  prepare(end: number): Promise<PreparedChunk>;
  /** Writes the parked bytes that replace recorded ones into the upload, durably (in place only). */
  applyReplacements(end: number): Promise<void>;
  /** The chunk is recorded: what it stored belongs to the upload now. */
  recorded(): void;
  /**
   * Where this request's bytes can be read cheaply, for hashing them, handed over: they stay
   * readable after close() until the taker releases them. Null if nowhere (at most once).
   */
  takeLocalSource(): LocalBytes | null;
  /** Lets other writers into the chunk's region (once its bytes are recorded). */
  releaseRegion(): void;
  close(): Promise<void>;
}
