/**
 * The API's JSON shapes, taken from the server's own schemas and views so that client and
 * server cannot drift apart. Type-only imports: nothing of the server reaches a client bundle.
 */
import type { Static } from '@sinclair/typebox';
import type { ErrorName } from '../domain/errors.js';
import type { AccountUser as AccountUserSchema, Attachment as AttachmentSchema, Block as BlockSchema, PublicUser as PublicUserSchema } from '../http/schemas.js';
import type { clipView, messageView } from '../http/views.js';

export type { ErrorName };
export type Attachment = Static<typeof AttachmentSchema>;
export type AccountUser = Static<typeof AccountUserSchema>;
export type PublicUser = Static<typeof PublicUserSchema>;
/** A user the signed-in user blocks. */
export type Block = Static<typeof BlockSchema>;
export type AudioClip = ReturnType<typeof clipView>;
export type Message = ReturnType<typeof messageView>;
/** A half-open byte range [start, end). */
export type ByteRange = [start: number, end: number];

/** Where a clip's or message's file comes from: a completed chunked attachment. */
export interface AttachmentRef {
  chunked_attachment_id: number;
  /** Hex SHA1 of the whole file; the server refuses the attachment if it differs. */
  fingerprint?: string;
}

export interface PageQuery {
  /** From 1. */
  page?: number;
  /** At most 150. */
  items?: number;
  /** Only what was made at or before this time. */
  maxTime?: Date;
}

export interface NewClip {
  title: string;
  audio: AttachmentRef;
  image?: AttachmentRef;
  description?: string;
  recordedAt?: Date;
  /** Makes the create safe to retry: the same uuid answers the clip made the first time. */
  uuid?: string;
  tags?: string[];
}

export interface ClipChanges {
  title?: string;
  description?: string;
  tags?: string[];
  recordedAt?: Date;
}

export interface NewMessage {
  recipientId: number;
  audio: AttachmentRef;
  image?: AttachmentRef;
  title?: string;
  parentId?: number;
  uuid?: string;
  recordedAt?: Date;
}
