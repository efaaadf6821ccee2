/**
 * The narrow interfaces the domain needs from the outside world. Adapters in
 * src/db and src/storage implement them; nothing here knows about HTTP, SQL or files.
 */
import type { ByteRange } from './attachments/ranges.js';

// ---------------------------------------------------------------- users and tokens

export interface UserRecord {
  id: number;
  username: string;
  email: string;
  passwordHash: string;
  messagingEnabled: boolean;
  createdAt: number; // epoch ms
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
}

export interface TokenRepository {
  create(tokenHash: string, userId: number, createdAt: number): Promise<void>;
  findUserId(tokenHash: string): Promise<number | null>;
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
  size: number;
  ranges: ByteRange[];
  state: AttachmentState;
  sha1: string | null;
  usedBy: AttachmentUse | null;
  storageKey: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

export interface NewAttachment {
  userId: number;
  filename: string;
  contentType: string | null;
  size: number;
  storageKey: string;
  createdAt: number;
  expiresAt: number;
}

export interface AttachmentRepository {
  /**
   * Inserts an attachment unless the user already has `maxOpen` attachments that
   * are not used yet; the count and the insert are atomic. Resolves null at the limit.
   */
  createWithinLimit(attachment: NewAttachment, maxOpen: number): Promise<AttachmentRecord | null>;
  findById(id: number): Promise<AttachmentRecord | null>;
  /**
   * Adds [start, end) to the recorded ranges under a row lock, so concurrent
   * callers never lose each other's ranges. Resolves null if the row is gone.
   */
  recordRange(id: number, start: number, end: number, now: number, expiresAt: number): Promise<AttachmentRecord | null>;
  /** Pushes the expiry forward (an upload is active). */
  touch(id: number, now: number, expiresAt: number): Promise<void>;
  /** uploading → complete, with the file's SHA1 and sniffed type; null if not uploading. */
  markComplete(id: number, sha1: string, contentType: string | null, now: number, expiresAt: number): Promise<AttachmentRecord | null>;
  delete(id: number): Promise<boolean>;
  /** Attachments not used whose expiry has passed, oldest first. */
  findExpired(now: number, limit: number): Promise<AttachmentRecord[]>;
  /** Deletes the row only if it is still expired and unused; true if it did. */
  deleteIfExpired(id: number, now: number): Promise<boolean>;
}

// ---------------------------------------------------------------- blob storage

/**
 * Positional access to one upload's bytes. Local disk writes in place; an object
 * store can keep each request's bytes as a part and assemble them on promotion,
 * which is why writes and reads name explicit positions and nothing else.
 */
export interface UploadHandle {
  /** Writes all of data at position, or throws. */
  write(data: Buffer, position: number): Promise<void>;
  /** Reads up to length bytes at position into buffer; resolves the count read. */
  read(buffer: Buffer, position: number, length: number): Promise<number>;
  /** Makes every write so far durable (survives a crash of the process and the OS). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A temporary file for bytes whose place is not known yet; gone after discard(). */
export interface ScratchFile extends UploadHandle {
  discard(): Promise<void>;
}

export interface BlobStore {
  /** Creates an upload of `size` bytes under a new key, durably; resolves the key. */
  createUpload(size: number): Promise<string>;
  openUpload(key: string): Promise<UploadHandle>;
  deleteUpload(key: string): Promise<void>;
  createScratch(): Promise<ScratchFile>;
  /** Bytes still free for new data, or null when the store cannot tell. */
  freeBytes(): Promise<number | null>;
}

export interface Clock {
  now(): number; // epoch ms
}
