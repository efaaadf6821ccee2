/**
 * What the users area asks of the world (SPEC 2, 10): users and their tokens, administration,
 * erasure, invite codes, blocks, and the app's identity provider. The SQL adapters are in
 * src/db/repositories/, the JWT verifier in src/auth/.
 */
import type { TransactionScope } from '../jobs/ports.js';

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

export interface UserRef {
  id: number;
  username: string;
}
