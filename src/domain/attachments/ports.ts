/**
 * What chunked attachments and the upload engine ask of the world: the attachment rows, each
 * commit applied by one conditional write (src/db/repositories/attachments-repository.ts),
 * running SHA1s of upload prefixes (src/storage/prefix-hashers.ts), and a file's type sniffed
 * from its head (src/media/sniff.ts). The bytes themselves go to the blob store
 * (../storage/ports.ts).
 */
import type { ByteRange } from './ranges.js';
import type { TransactionScope } from '../jobs/ports.js';

export type AttachmentState = 'uploading' | 'complete' | 'used';

export interface AttachmentUse {
  type: 'audio_clip' | 'message';
  id: number;
}

export interface AttachmentRecord {
  id: number;
  userId: number;
  filename: string;
  contentType: string | null;
  /** Null while the size is not known yet (SPEC 3.8). */
  size: number | null;
  ranges: ByteRange[];
  /** Bytes the ranges cover, kept with them so nobody has to add them up. */
  receivedBytes: number;
  state: AttachmentState;
  sha1: string | null;
  usedBy: AttachmentUse | null;
  storageKey: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
  /** Goes up whenever recorded bytes are replaced by different ones (SHA1s are checked against it). */
  contentVersion: number;
}

/** A piece of an upload in a piece store: bytes [start, end) of the file, as blob `storageKey`. */
export interface PieceRecord {
  /** Pieces commit in id order; where pieces overlap, the newest one's bytes count. */
  id: number;
  start: number;
  end: number;
  storageKey: string;
}

/** A range to record, and how it relates to the bytes recorded before it. */
export interface RangeCommit {
  start: number;
  end: number;
  /** The chunk was found to change bytes already recorded: the content version goes up. */
  changesRecorded: boolean;
  /**
   * Piece stores: the new piece, and the newest piece whose bytes it was compared with.
   * A newer piece it overlaps, or recorded bytes it was not compared with, count as changed.
   */
  piece?: { storageKey: string; comparedThrough: number; compared: boolean } | undefined;
  /** The row as this process last saw it: if it is still so, the range is recorded in one write. */
  seen?: AttachmentRecord | undefined;
  /**
   * An append (tus, the IETF draft): recorded only while the bytes received contiguously from 0
   * end exactly at `start`, checked in the same write that records the range.
   */
  append?: boolean | undefined;
}

/** What the row looked like as one consistent reading: its pieces and the version they make. */
export interface PieceLayout {
  record: AttachmentRecord;
  pieces: PieceRecord[];
}

export interface NewAttachment {
  userId: number;
  filename: string;
  contentType: string | null;
  size: number | null;
  storageKey: string;
  createdAt: number;
  expiresAt: number;
  /** The owner's partial uploads this one is made of (tus concatenation): from now on they do not count. */
  consumes?: number[] | undefined;
}

/** Where a page of expired attachments ends: the next page starts after it. */
export interface ExpiryCursor {
  expiresAt: number;
  id: number;
}

export type RecordRangeOutcome =
  | { recorded: AttachmentRecord; /** This commit raised the content version. */ bumped: boolean }
  | { gone: true }
  | { tooManyRanges: true }
  /** The attachment is no longer uploading and the chunk would change it: nothing was recorded. */
  | { complete: AttachmentRecord }
  /** An append whose offset is no longer the upload's: nothing was recorded. */
  | { offsetMoved: AttachmentRecord };

/** What one user's open attachments may hold (SPEC 3.6). */
export interface OpenAttachmentLimits {
  /** Attachments not used yet. */
  maxOpen: number;
  /** Bytes that attachments still uploading have declared (their size) but not received. */
  maxReservedBytes: number;
}

/** The user's declared-but-unsent bytes, when a new declaration would take them past the limit. */
export interface OverReservation {
  overReservation: { reservedBytes: number };
}

export type AttachmentCreateOutcome = { created: AttachmentRecord } | { tooManyOpen: true } | OverReservation;

export interface AttachmentRepository {
  /**
   * Inserts an attachment unless that would take the user past a limit: `maxOpen`
   * attachments not used yet, or `maxReservedBytes` declared but not received. The counts
   * and the insert are atomic (under the user's row lock).
   */
  createWithinLimit(attachment: NewAttachment, limits: OpenAttachmentLimits): Promise<AttachmentCreateOutcome>;
  findById(id: number): Promise<AttachmentRecord | null>;
  /** The attachment if `userId` owns it: one look-up by both, so another user's costs what a missing one does. */
  findOwned(id: number, userId: number): Promise<AttachmentRecord | null>;
  /** Bytes that open attachments of known size have declared but not received yet (their sparse files will fill). */
  reservedBytes(): Promise<number>;
  /**
   * Adds the range (and its piece) under a row lock, so concurrent callers on any node never
   * lose each other's ranges; refuses (recording nothing) when that would leave more than
   * `maxRanges` separate ranges, or change an attachment that is no longer uploading.
   */
  recordRange(id: number, commit: RangeCommit, maxRanges: number, now: number, expiresAt: number): Promise<RecordRangeOutcome>;
  /** The row and its pieces, read so that the pieces are at least as new as the row's content version. */
  findLayout(id: number): Promise<PieceLayout | null>;
  /** Forgets pieces (after assembly, or with their attachment); resolves their storage keys. */
  deletePieces(id: number): Promise<string[]>;
  /** Records the type sniffed from the file's first bytes; null if the row is gone or no longer uploading. */
  setContentType(id: number, contentType: string): Promise<AttachmentRecord | null>;
  /**
   * Fixes an unknown size, under the row lock, if every recorded byte lies below it.
   * Resolves the row as it is afterwards (its size still null if the ranges reach past
   * `size`, or the earlier size if one was fixed before); null if the row is gone.
   * recordRange records nothing past a fixed size and resolves the row unchanged then.
   * Refuses a size that would take the owner's declared-but-unsent bytes past `maxReservedBytes`.
   */
  fixSize(id: number, size: number, now: number, maxReservedBytes: number): Promise<AttachmentRecord | OverReservation | null>;
  /**
   * uploading → complete with the file's SHA1, only while the content version is still the
   * one the SHA1 was computed on: the database decides, so no two nodes both complete it and
   * no SHA1 is kept for changed bytes. `storageKey` replaces the row's (an assembled blob).
   * `outbox` runs in the same transaction (its events). Null if the row did not change.
   */
  markComplete(
    id: number,
    completion: { sha1: string; contentVersion: number; contentType: string | null; storageKey?: string | undefined },
    now: number,
    expiresAt: number,
    outbox?: (scope: TransactionScope) => Promise<void>,
  ): Promise<AttachmentRecord | null>;
  /**
   * Deletes the row in one conditional statement unless it is used (a check made before
   * would race the transaction that uses it); true if it did.
   */
  deleteUnused(id: number): Promise<boolean>;
  /** Attachments whose every byte is recorded but that were never marked complete (a crash in between). */
  findWholeUploading(limit: number): Promise<AttachmentRecord[]>;
  /** Attachments not used whose expiry has passed, oldest first (by expiry, then id), after `after` if given. */
  findExpired(now: number, limit: number, after?: ExpiryCursor): Promise<AttachmentRecord[]>;
  /** Deletes the row only if it is still expired and unused; true if it did. */
  deleteIfExpired(id: number, now: number): Promise<boolean>;
  /** The user's attachments not used yet, leaving out partial uploads a final has consumed; newest first. */
  listOpen(userId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<AttachmentRecord[]>;
  /** The partial uploads the final concatenation `finalId` is made of. */
  findConsumedBy(finalId: number): Promise<AttachmentRecord[]>;
  /** Deletes the row only if it is still consumed by `finalId` and unused; true if it did. */
  deleteIfConsumedBy(id: number, finalId: number): Promise<boolean>;
  /** Moves an unused attachment's expiry to `expiresAt` if it is earlier (a request is writing to it, on some node). */
  extendExpiry(id: number, expiresAt: number): Promise<void>;
}

/** Where a hasher reads an upload's bytes: a local file it may open itself, or a stream of a range. */
export interface ByteSource {
  localPath: string | null;
  read(start: number, end: number): AsyncIterable<Buffer>;
}

/**
 * Running SHA1s of upload prefixes, each named by the caller. An implementation may read
 * and hash off the main thread; the caller keeps the bytes it names stable meanwhile.
 */
export interface PrefixHasher {
  /** Feeds bytes [from, to) of the source into hash `name`, which stands at `from` (0 starts it). */
  extend(name: string, source: ByteSource, from: number, to: number): Promise<void>;
  /** Hex SHA1 of what was fed so far; the hash can go on. */
  digest(name: string): Promise<string>;
  discard(name: string): void;
  close(): Promise<void>;
}

/** Sniffs the content type of a file from its first bytes. */
export type ContentSniffer = (head: Buffer) => Promise<string | null>;
