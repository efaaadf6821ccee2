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
}

export interface AccessTokensTable {
  token_hash: string;
  user_id: number;
  created_at: number;
}

export interface AttachmentsTable {
  id: Generated<number>;
  user_id: number;
  filename: string;
  content_type: string | null;
  size: number;
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
}

export interface Tables {
  users: UsersTable;
  access_tokens: AccessTokensTable;
  attachments: AttachmentsTable;
}
