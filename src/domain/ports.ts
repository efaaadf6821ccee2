/**
 * The narrow interfaces the domain needs from the outside world. Adapters in
 * src/db and src/storage implement them; nothing here knows about HTTP, SQL or files.
 */
import type { ByteRange } from './attachments/ranges.js';
import type { TransactionScope } from './jobs/job-queue.js';
import type { OutboxWriter } from './jobs/outbox.js';
import type { MediaProcessing } from './media/processing.js';

// ---------------------------------------------------------------- users and tokens

/** `disabled`: by an administrator, until enabled again; `erasing`: going away for good (SPEC 10). Only active users sign in. */
export type UserState = 'active' | 'disabled' | 'erasing';

export interface UserRecord {
  id: number;
  username: string;
  email: string;
  passwordHash: string;
  messagingEnabled: boolean;
  createdAt: number; // epoch ms
  state: UserState;
}

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
  createdAt: number;
}

export interface UserRepository {
  /** Inserts a user; resolves null when the username (case-insensitive) is taken. */
  create(user: NewUser): Promise<UserRecord | null>;
  findById(id: number): Promise<UserRecord | null>;
  findByUsername(username: string): Promise<UserRecord | null>;
  /**
   * Sets a new password hash and, in the same transaction, forgets every token of the user but
   * the one whose digest is `keepTokenHash` (none kept when null); resolves how many went.
   */
  changePassword(userId: number, passwordHash: string, keepTokenHash: string | null): Promise<number>;
}

export interface TokenRepository {
  /** `expiresAt` null: the token never expires. */
  create(tokenHash: string, userId: number, createdAt: number, expiresAt: number | null): Promise<void>;
  /** The user a token digest belongs to while it has not expired at `now`, in one look-up. */
  findUser(tokenHash: string, now: number): Promise<UserRecord | null>;
  /** Forgets one token; false when it was not known. */
  delete(tokenHash: string): Promise<boolean>;
  /** Forgets every token of a user; resolves how many there were. */
  deleteAllForUser(userId: number): Promise<number>;
  /** Forgets tokens that expired before `now`; resolves how many. */
  deleteExpired(now: number): Promise<number>;
}

export interface UserQuery {
  /** Part of the username or email, any case. */
  text?: string | undefined;
  state?: UserState | undefined;
  offset: number;
  limit: number;
}

/** What a user has, counted. */
export interface UserCounts {
  clips: number;
  messagesSent: number;
  messagesReceived: number;
  /** Attachments not used by a clip or message (uploading or complete). */
  openAttachments: number;
  tokens: number;
  blocks: number;
  /** The identity provider's subject for a user of the app's identity provider; else null. */
  subject: string | null;
}

/** Bytes stored for a user (or for everyone): what is theirs in the store. */
export interface StorageUse {
  /** Originals: clips' and sent messages' audio and images. */
  files: number;
  /** What media processing made of them: MP3s, waveforms, image sizes. */
  renditions: number;
  /** Bytes received for attachments not used yet. */
  uploads: number;
  total: number;
}

/** Administration (SPEC 10): reading and changing users beyond what the API lets a user do. */
export interface UserAdminRepository {
  /** Newest first. */
  list(query: UserQuery): Promise<UserRecord[]>;
  /** Sets the state if it is one of `from` now; false otherwise (or no such user). */
  setState(userId: number, from: UserState[], to: UserState): Promise<boolean>;
  counts(userId: number): Promise<UserCounts>;
  /** Users by bytes stored, most first, and the sum over every user. */
  storage(limit: number, userId?: number): Promise<{ users: Array<StorageUse & UserRef>; all: StorageUse }>;
}

/** A user the erasure removed: what the `user.deleted` event may still say about them. */
export interface ErasedUser {
  id: number;
  /** The identity provider's subject, for a user signed in by JWTs; else null. */
  subject: string | null;
}

/** What one step of an erasure removed. */
export interface ErasedRecords {
  clips: number;
  messages: number;
  attachments: number;
  files: number;
}

/**
 * Erasing a user (SPEC 10) in steps that each commit on their own, so any node can carry an
 * erasure on after a crash. Every blob whose rows a step deletes is listed as a pending deletion
 * in the same transaction, and stays listed until the caller has deleted it from the store.
 */
export interface ErasureRepository {
  /**
   * Marks the user `erasing` and revokes its tokens, and runs `within` (which enqueues the
   * erasure job) in the same transaction; false when it is erasing already or gone.
   */
  begin(userId: number, within: (scope: TransactionScope) => Promise<void>): Promise<boolean>;
  /**
   * Deletes up to `limit` of the user's clips, then messages sent or received, then
   * attachments, then stray files, with what hangs on them (renditions, pieces); resolves what went.
   */
  eraseBatch(userId: number, limit: number, now: number): Promise<ErasedRecords>;
  /** Storage keys still to delete for this user. */
  pendingBlobs(userId: number, limit: number): Promise<string[]>;
  /** The blobs are gone from the store: their keys leave the list. */
  forgetBlobs(keys: string[]): Promise<void>;
  /**
   * Deletes the user row (and with it tokens, identity links, blocks) if nothing of theirs is
   * left, running `within` in the same transaction: 'remaining' when something is (made
   * meanwhile, or still to delete from the store), 'gone' when the user row is gone already.
   */
  finish(userId: number, within: (scope: TransactionScope, user: ErasedUser) => Promise<void>): Promise<'finished' | 'remaining' | 'gone'>;
  /** The user as the erasure sees it (whatever its state), or null when gone. */
  state(userId: number): Promise<UserState | null>;
}

export interface InviteRecord {
  id: number;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** The user it registered (null once that user is erased, or while unused). */
  usedBy: number | null;
}

export type InvitedRegistration = { user: UserRecord } | { usernameTaken: true } | { inviteInvalid: true };

export interface InviteRepository {
  create(codeHash: string, createdAt: number, expiresAt: number): Promise<InviteRecord>;
  /**
   * Spends the invite and inserts the user in one transaction: the code must be unused and not
   * expired at `now`, and one code registers one user however many try at once. A taken
   * username leaves the code unspent.
   */
  register(user: NewUser, codeHash: string, now: number): Promise<InvitedRegistration>;
  /** Newest first; `unusedAt` (epoch ms): only codes still usable then. */
  list(page: { offset: number; limit: number; unusedAt?: number | undefined }): Promise<InviteRecord[]>;
  /** Forgets a code that was not used; false when there is none such. */
  deleteUnused(id: number): Promise<boolean>;
}

/** A user the caller blocks, and since when. */
export interface BlockRecord {
  user: UserRef;
  createdAt: number;
}

export interface BlockRepository {
  /**
   * Records that `blockerId` blocks `blockedId` (unless it does already); resolves whether this
   * call made it and when the block was made, or null when `blockedId` is no user.
   */
  add(blockerId: number, blockedId: number, now: number): Promise<{ created: boolean; createdAt: number } | null>;
  /** False when `blockerId` did not block `blockedId`. */
  remove(blockerId: number, blockedId: number): Promise<boolean>;
  /** Newest first; `maxTime` (epoch ms) leaves out blocks made after it. */
  list(blockerId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<BlockRecord[]>;
  isBlocked(blockerId: number, blockedId: number): Promise<boolean>;
}

/** Who a verified token from the app's identity provider says the caller is. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  /** The username claim, as the provider sent it (not yet fit to Trickle's rules). */
  preferredUsername: string | null;
  email: string | null;
  /** When the token was issued (its `iat`, epoch ms), if it says. */
  issuedAt: number | null;
}

/** Checks tokens issued by the app's identity provider (JWTs); an adapter owns the crypto. */
export interface IdentityVerifier {
  /** Whether the bearer token is one for this verifier rather than a Trickle access token. */
  recognizes(token: string): boolean;
  /** The identity the token proves; throws ApiError('invalid_token') when any check fails. */
  verify(token: string): Promise<ExternalIdentity>;
}

export interface ExternalIdentityRepository {
  findUser(issuer: string, subject: string): Promise<UserRecord | null>;
  /**
   * Creates a user linked to (issuer, subject) in one transaction. Resolves null when the
   * username is taken or the identity was linked meanwhile (another node signed it in first).
   */
  createLinkedUser(user: NewUser, issuer: string, subject: string): Promise<UserRecord | null>;
}

// ---------------------------------------------------------------- attachments

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

// ---------------------------------------------------------------- media files, clips, messages

export interface AudioInfo {
  contentType: string;
  codec: string;
  duration: number;
  sampleRate: number;
  channels: number;
}

export interface ImageInfo {
  contentType: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

/** Reads what a file really is from its bytes; null when it is not a supported kind. */
export interface MediaProber {
  probeAudio(path: string): Promise<AudioInfo | null>;
  probeImage(path: string): Promise<ImageInfo | null>;
}

/**
 * Remembers that an attachment's bytes (named by their SHA1) are not decodable audio, so
 * asking again costs a look-up instead of another probe.
 */
export interface ProbeVerdicts {
  isRejectedAudio(attachmentId: number, sha1: string): Promise<boolean>;
  rejectAudio(attachmentId: number, sha1: string): Promise<void>;
}

export interface NewMediaFile {
  userId: number;
  storageKey: string;
  kind: 'audio' | 'image';
  filename: string;
  contentType: string;
  size: number;
  sha1: string;
  audio: Omit<AudioInfo, 'contentType'> | null;
  image: Omit<ImageInfo, 'contentType'> | null;
  createdAt: number;
}

export interface MediaFileRecord extends NewMediaFile {
  id: number;
}

export interface UserRef {
  id: number;
  username: string;
}

export interface Location {
  latitude: number | null;
  longitude: number | null;
  accuracy: number | null;
}

export interface NewClip {
  userId: number;
  uuid: string | null;
  title: string;
  description: string;
  tags: string[];
  recordedAt: number | null;
  location: Location;
  createdAt: number;
}

export interface ClipRecord extends NewClip {
  id: number;
  owner: UserRef;
  audio: MediaFileRecord;
  image: MediaFileRecord | null;
  /** Background processing of its media (SPEC 8). */
  processing: MediaProcessing;
  updatedAt: number;
}

export interface ClipFilter {
  userId?: number | undefined;
  query?: string | undefined;
  maxTime?: number | undefined;
  offset: number;
  limit: number;
}

export interface ClipChanges {
  title?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
  recordedAt?: number | null | undefined;
  updatedAt: number;
}

/** Files to store with a new clip or message, and the attachments whose bytes they are. */
export interface FilesToAttach {
  audio: NewMediaFile;
  image: NewMediaFile | null;
  /** Attachment ids that become used; each must still be complete, or nothing is stored. */
  attachmentIds: number[];
}

export type CreateOutcome<T> = { created: T } | { existing: T } | { attachmentConflict: number };

export interface ClipRepository {
  /** One transaction: files, the clip, the attachments marked used by it, and the outbox's jobs. */
  create(clip: NewClip, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<ClipRecord>>;
  findById(id: number): Promise<ClipRecord | null>;
  findByUuid(userId: number, uuid: string): Promise<ClipRecord | null>;
  list(filter: ClipFilter): Promise<ClipRecord[]>;
  update(id: number, changes: ClipChanges): Promise<ClipRecord | null>;
  /** Deletes the clip and its file records; resolves the storage keys to delete. */
  delete(id: number): Promise<string[]>;
}

export interface NewMessage {
  senderId: number;
  recipientId: number;
  uuid: string | null;
  title: string;
  parentId: number | null;
  recordedAt: number | null;
  createdAt: number;
}

export interface MessageRecord extends NewMessage {
  id: number;
  sender: UserRef;
  recipient: UserRef;
  played: boolean;
  senderDeleted: boolean;
  recipientDeleted: boolean;
  audio: MediaFileRecord;
  image: MediaFileRecord | null;
  /** Background processing of its media (SPEC 8). */
  processing: MediaProcessing;
}

export interface MessageFilter {
  /** The inbox leaves out messages from senders the user blocks (SPEC 10). */
  box: 'inbox' | 'outbox';
  userId: number;
  maxTime?: number | undefined;
  offset: number;
  limit: number;
}

export interface MessageRepository {
  /** One transaction, like ClipRepository.create. */
  create(message: NewMessage, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<MessageRecord>>;
  findById(id: number): Promise<MessageRecord | null>;
  findByUuid(senderId: number, uuid: string): Promise<MessageRecord | null>;
  list(filter: MessageFilter): Promise<MessageRecord[]>;
  markPlayed(id: number, played: boolean): Promise<void>;
  /**
   * Hides the message from one side; when both sides have deleted it, removes it and its
   * file records and resolves the storage keys to delete.
   */
  deleteFor(id: number, side: 'sender' | 'recipient'): Promise<string[]>;
}

// ---------------------------------------------------------------- blob storage

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

/** What a store can do beyond the core; callers ask instead of assuming. */
export interface StorageCapabilities {
  /** Uploads are one blob written in place at their offsets (`inPlace`); else each piece is a blob (`pieces`). */
  inPlaceWrites: boolean;
  /** Blobs are files with paths that tools may open directly. */
  localPaths: boolean;
  /** freeBytes() tells how much room is left. */
  freeSpace: boolean;
}

/** Uploads written in place: one blob of the final size, written at its offsets. */
export interface InPlaceUploads {
  /** Creates a blob of `size` bytes (zeros) under a new key, durably; resolves the key. */
  createUpload(size: number): Promise<string>;
  openUpload(key: string): Promise<UploadHandle>;
}

/** A stretch of a piece blob: bytes [start, end) of the file come from `key` at `pieceOffset`. */
export interface PieceSlice {
  key: string;
  /** Where the slice starts inside its piece blob. */
  pieceOffset: number;
  start: number;
  end: number;
}

/**
 * Uploads kept as pieces (object stores, which cannot write at offsets): every accepted
 * chunk is a blob of its own, and the file is assembled from them once complete.
 */
export interface PieceUploads {
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

/** A piece on its way to the store while its bytes arrive (PieceUploads.streamPiece). */
export interface PieceStream {
  /** Resolves when the store can take more (backpressure); rejects if the transfer failed. */
  write(bytes: Buffer): Promise<void>;
  /** After the last byte: resolves the new blob's key once it is stored durably. */
  finish(): Promise<string>;
  /** Gives up: whatever was sent is not kept. */
  abort(): Promise<void>;
}

/** Blobs: finished files (clips' and messages' audio and images) and the bytes of uploads. */
/**
 * The `code` of an error by which a store says it did not answer in time or is failing (an
 * object store that is down or frozen); the HTTP layer answers 503 `storage_unavailable`.
 */
export const STORAGE_UNAVAILABLE = 'STORAGE_UNAVAILABLE';

/** Any call may fail with an error whose `code` is STORAGE_UNAVAILABLE when the store does not answer in time. */
export interface BlobStore {
  readonly capabilities: StorageCapabilities;
  /** Present when capabilities.inPlaceWrites. */
  readonly inPlace: InPlaceUploads | null;
  /** Present when uploads are kept as pieces. */
  readonly pieces: PieceUploads | null;
  /** A node-local scratch file (for staging bytes whose fate is not decided yet). */
  createScratch(): Promise<ScratchFile>;
  /** Turns a scratch file into a blob under a new key (without copying where the store can); resolves the key. */
  adoptScratch(scratch: ScratchFile): Promise<string>;
  /**
   * Streams bytes [start, end) of a blob (all of it by default). A blob that does not exist
   * fails the stream with an error whose `code` is 'ENOENT', whatever the store.
   */
  openRead(key: string, range?: { start: number; end: number }): NodeJS.ReadableStream;
  /** Runs fn with a local file holding the blob (the blob itself where capabilities.localPaths, else a temporary copy). */
  withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T>;
  /** The blob's own path where capabilities.localPaths, else null. */
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

export interface BlobReferences {
  /** Which of these storage keys a record (attachment or media file) still names. */
  referenced(keys: string[]): Promise<Set<string>>;
}

/** A span of blob modification times whose unnamed blobs the orphan sweep keeps. */
export interface KeptWindow {
  from: number;
  to: number;
  reason: string;
}

/** The orphan sweep's record in the database (src/domain/maintenance/orphan-sweeper.ts). */
export interface SweepLedger {
  /** The database's epoch and when it reached it. */
  epoch(): Promise<{ epoch: number; advancedAt: number }>;
  /**
   * Moves the epoch from `seen` to `next` at `now`, recording `keep` with it; a compare-and-set:
   * false when another node moved it first (then nothing is written).
   */
  advance(seen: number, next: number, now: number, keep: KeptWindow | null): Promise<boolean>;
  keptWindows(): Promise<KeptWindow[]>;
  /** An operator's decision: the kept blobs may go (the sweep deletes them once unnamed and old); resolves how many windows. */
  releaseKept(): Promise<number>;
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

export interface Clock {
  now(): number; // epoch ms
}
