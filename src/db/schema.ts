/** Table shapes as the query layer sees them. Times are epoch milliseconds. */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** Lower-cased username: uniqueness is case-insensitive on every database. */
  username_key: string;
  email: string;
  password_hash: string;
  messaging_enabled: number;
  created_at: number;
  /** active | disabled (by an administrator) | erasing (SPEC 10). */
  state: Generated<string>;
}

export interface AccessTokensTable {
  token_hash: string;
  user_id: number;
  created_at: number;
  /** Null: never expires. */
  expires_at: number | null;
}

/** Links an identity provider's (issuer, subject) to the Trickle user it signs in as. */
export interface ExternalIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: number;
  created_at: number;
}

export interface AttachmentsTable {
  id: Generated<number>;
  user_id: number;
  filename: string;
  content_type: string | null;
  /** The total size; 0 while size_known is 0 (SPEC 3.8). */
  size: number;
  size_known: Generated<number>;
  /** JSON: the recorded byte ranges, sorted and merged. */
  ranges: string;
  received_bytes: number;
  state: string;
  sha1: string | null;
  used_by_type: string | null;
  used_by_id: number | null;
  storage_key: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  /** Goes up whenever recorded bytes are replaced by different ones; a SHA1 is stored only for the version it was computed on. */
  content_version: Generated<number>;
  /** The SHA1 of the bytes last found not to be decodable audio; null if never. */
  audio_rejected_sha1: Generated<string | null>;
  /** The final tus concatenation made of this partial upload; null if none. */
  consumed_by: Generated<number | null>;
}

/** A piece of an upload kept in an object store: bytes [start_offset, end_offset) as one blob. */
export interface AttachmentPiecesTable {
  id: Generated<number>;
  attachment_id: number;
  start_offset: number;
  end_offset: number;
  storage_key: string;
  created_at: number;
}

/** A stored audio or image file that a clip or message owns. */
export interface MediaFilesTable {
  id: Generated<number>;
  user_id: number;
  storage_key: string;
  kind: string;
  filename: string;
  content_type: string;
  size: number;
  sha1: string;
  codec: string | null;
  sample_rate: number | null;
  channels: number | null;
  duration: number | null;
  width: number | null;
  height: number | null;
  created_at: number;
}

export interface AudioClipsTable {
  id: Generated<number>;
  user_id: number;
  uuid: string | null;
  title: string;
  description: string;
  /** JSON array of strings. */
  tags: string;
  audio_file_id: number;
  image_file_id: number | null;
  recorded_at: number | null;
  latitude: number | null;
  longitude: number | null;
  accuracy: number | null;
  created_at: number;
  updated_at: number;
}

export interface MessagesTable {
  id: Generated<number>;
  sender_id: number;
  recipient_id: number;
  uuid: string | null;
  title: string;
  parent_id: number | null;
  played: number;
  audio_file_id: number;
  image_file_id: number | null;
  recorded_at: number | null;
  sender_deleted: number;
  recipient_deleted: number;
  created_at: number;
}

/** SQLite's job queue (PostgreSQL keeps its jobs in pg-boss's own schema). */
export interface JobsTable {
  id: Generated<number>;
  type: string;
  /** JSON object. */
  payload: string;
  /** queued | running | failed (done jobs are deleted). */
  state: string;
  /** Runs started so far; also fences a lapsed run's late writes. */
  attempts: number;
  max_attempts: number;
  /** Not before (epoch ms). */
  run_at: number;
  /** A running job whose lease has passed belongs to nobody (its node died). */
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** tus / IETF upload details beyond the attachment (src/domain/protocols). */
export interface UploadExtrasTable {
  attachment_id: number;
  metadata: string | null;
  /** JSON: {"kind":"partial"} or {"kind":"final","parts":[ids]}; null for a plain upload. */
  concat: string | null;
  /** JSON: IETF Repr-Digest values (base64) and Want-Repr-Digest algorithms sent before completion. */
  digests: string | null;
}

/** Processing of one clip's or message's audio file (SPEC 8); absent for files from before it. */
export interface MediaProcessingTable {
  audio_file_id: number;
  /** audio_clip | message, and its id: whose events and views these are. */
  subject_type: string;
  subject_id: number;
  /** queued | processing | ready | failed | unavailable */
  state: string;
  error_name: string | null;
  error_description: string | null;
  integrated_lufs: number | null;
  true_peak_dbtp: number | null;
  mp3_key: string | null;
  mp3_size: number | null;
  mp3_sha1: string | null;
  /** Small renditions (Ogg Opus; AAC in MP4), null for records processed before they existed. */
  low_opus_key: string | null;
  low_opus_size: number | null;
  low_opus_sha1: string | null;
  low_aac_key: string | null;
  low_aac_size: number | null;
  low_aac_sha1: string | null;
  waveform_key: string | null;
  waveform_size: number | null;
  waveform_sha1: string | null;
  updated_at: number;
}

/** A resized copy of an image file, made once per geometry. */
export interface ImageRenditionsTable {
  id: Generated<number>;
  image_file_id: number;
  geometry: string;
  storage_key: string;
  content_type: string;
  size: number;
  sha1: string;
  width: number;
  height: number;
  created_at: number;
}

/** One user blocks another: the blocked user's messages to them are refused (SPEC 10). */
export interface BlocksTable {
  blocker_id: number;
  blocked_id: number;
  created_at: number;
}

/** A single-use invite code for REGISTRATION=invite (SPEC 10), kept as its SHA-256 digest. */
export interface InviteCodesTable {
  id: Generated<number>;
  code_hash: string;
  created_at: number;
  expires_at: number;
  /** Null until a registration spends it. */
  used_at: number | null;
  /** The user it registered; null once that user is erased. */
  used_by: number | null;
}

/** A blob whose row an erasure deleted, listed until the blob is gone from the store. */
export interface BlobDeletionsTable {
  storage_key: string;
  /** The user being erased (no foreign key: the list outlives nothing, but the row goes last). */
  user_id: number;
  created_at: number;
}

/** The orphan sweep's epoch: one row (id 1). The store keeps a record of the epochs reached. */
export interface SweepEpochTable {
  id: number;
  epoch: number;
  /** When the database reached this epoch. */
  advanced_at: number;
}

/** Blobs written in [from_at, to_at] that no record names are kept, not deleted, until an operator releases them. */
export interface KeptBlobWindowsTable {
  id: Generated<number>;
  from_at: number;
  to_at: number;
  found_at: number;
  reason: string;
}

/** A running backup's hold on blob deletions, until `held_until` (renewed while it runs). */
export interface DeletionHoldsTable {
  holder: string;
  held_until: number;
}

export interface Tables {
  media_processing: MediaProcessingTable;
  image_renditions: ImageRenditionsTable;
  upload_extras: UploadExtrasTable;
  users: UsersTable;
  access_tokens: AccessTokensTable;
  external_identities: ExternalIdentitiesTable;
  attachments: AttachmentsTable;
  attachment_pieces: AttachmentPiecesTable;
  media_files: MediaFilesTable;
  audio_clips: AudioClipsTable;
  messages: MessagesTable;
  jobs: JobsTable;
  blocks: BlocksTable;
  invite_codes: InviteCodesTable;
  blob_deletions: BlobDeletionsTable;
  sweep_epoch: SweepEpochTable;
  kept_blob_windows: KeptBlobWindowsTable;
  deletion_holds: DeletionHoldsTable;
}
