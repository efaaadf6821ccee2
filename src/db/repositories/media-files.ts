/** File rows shared by clips and messages, and the hand-over of attachments to them. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { OutboxWriter } from '../../domain/jobs/outbox.js';
import type { CreateOutcome, FilesToAttach, MediaFileRecord, NewMediaFile } from '../../domain/media/ports.js';
import type { UserRef } from '../../domain/users/ports.js';
import type { MediaFilesTable, Tables } from '../schema.js';
import { scopeOf } from '../transaction-scope.js';
import { isUniqueViolation } from './errors.js';
import type { MediaProcessing } from '../../domain/media/processing.js';
import { deleteRenditions, loadProcessing } from './media-processing-repository.js';

export function toMediaFile(row: Selectable<MediaFilesTable>): MediaFileRecord {
  return {
    id: row.id,
    userId: row.user_id,
    storageKey: row.storage_key,
    kind: row.kind as 'audio' | 'image',
    filename: row.filename,
    contentType: row.content_type,
    size: row.size,
    sha1: row.sha1,
    audio:
      row.kind === 'audio'
        ? { codec: row.codec ?? '', duration: row.duration ?? 0, sampleRate: row.sample_rate ?? 0, channels: row.channels ?? 0 }
        : null,
    image: row.kind === 'image' ? { width: row.width ?? 0, height: row.height ?? 0 } : null,
    createdAt: row.created_at,
  };
}

async function insertFile(trx: Transaction<Tables>, file: NewMediaFile): Promise<number> {
  const row = await trx
    .insertInto('media_files')
    .values({
      user_id: file.userId,
      storage_key: file.storageKey,
      kind: file.kind,
      filename: file.filename,
      content_type: file.contentType,
      size: file.size,
      sha1: file.sha1,
      codec: file.audio?.codec ?? null,
      sample_rate: file.audio?.sampleRate ?? null,
      channels: file.audio?.channels ?? null,
      duration: file.audio?.duration ?? null,
      width: file.image?.width ?? null,
      height: file.image?.height ?? null,
      created_at: file.createdAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

class AttachmentConflict extends Error {
  readonly attachmentId: number;

  constructor(attachmentId: number) {
    super(`attachment ${attachmentId} is no longer complete`);
    this.attachmentId = attachmentId;
  }
}

/**
 * Inside the caller's transaction: stores the file rows and marks the attachments used
 * by (type, id) — only those still complete, so two requests can never both use one.
 * Throws AttachmentConflict (rolling the transaction back) when one is not.
 */
async function storeFiles(
  trx: Transaction<Tables>,
  files: FilesToAttach,
): Promise<{ audioId: number; imageId: number | null; markUsed: (type: 'audio_clip' | 'message', id: number, now: number) => Promise<void> }> {
  const audioId = await insertFile(trx, files.audio);
  const imageId = files.image ? await insertFile(trx, files.image) : null;
  return {
    audioId,
    imageId,
    markUsed: async (type, id, now) => {
      for (const attachmentId of files.attachmentIds) {
        const result = await trx
          .updateTable('attachments')
          .set({ state: 'used', used_by_type: type, used_by_id: id, expires_at: null, updated_at: now })
          .where('id', '=', attachmentId)
          .where('state', '=', 'complete')
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) throw new AttachmentConflict(attachmentId);
      }
    },
  };
}

/** A clip or message to create with its files (createWithFiles). */
export interface WithFiles<T> {
  type: 'audio_clip' | 'message';
  createdAt: number;
  /** Inserts its row inside the transaction, given the ids of its file rows; resolves its id. */
  insert(trx: Transaction<Tables>, files: { audioId: number; imageId: number | null }): Promise<number>;
  findById(id: number): Promise<T | null>;
  /** The one made before with the same uuid (a retried create); null when the request names no uuid. */
  findExisting: (() => Promise<T | null>) | null;
}

/**
 * Creates a clip or message in one transaction: its files, its row, the outbox's jobs, and the
 * attachments marked used by it. An attachment no longer complete stores nothing and answers
 * attachmentConflict; a uuid already used answers the existing one, so a retry is idempotent.
 */
export async function createWithFiles<T>(db: Kysely<Tables>, files: FilesToAttach, outbox: OutboxWriter | undefined, subject: WithFiles<T>): Promise<CreateOutcome<T>> {
  try {
    const id = await db.transaction().execute(async (trx) => {
      const stored = await storeFiles(trx, files);
      const created = await subject.insert(trx, stored);
      await outbox?.(scopeOf(trx), { type: subject.type, id: created });
      await stored.markUsed(subject.type, created, subject.createdAt);
      return created;
    });
    return { created: (await subject.findById(id))! };
  } catch (error) {
    if (error instanceof AttachmentConflict) return { attachmentConflict: error.attachmentId };
    if (subject.findExisting && isUniqueViolation(error)) {
      const existing = await subject.findExisting();
      if (existing) return { existing };
    }
    throw error;
  }
}

/**
 * What a page of clip or message rows needs besides themselves: their audio and image files, the
 * users they name, and their processing. Processing is read first: its outcome and the measured
 * duration commit together, so a view that reads `ready` then reads that duration with the
 * files (in the other order, on PostgreSQL, where each statement has its own snapshot, a view
 * could pair `ready` with the duration the header declared).
 */
export async function loadViewParts(
  db: Kysely<Tables>,
  rows: ReadonlyArray<{ audio_file_id: number; image_file_id: number | null }>,
  userIds: number[],
): Promise<{ files: Map<number, MediaFileRecord>; users: Map<number, UserRef>; processing: Map<number, MediaProcessing> }> {
  const processing = await loadProcessing(db, rows.map((r) => ({ audioFileId: r.audio_file_id, imageFileId: r.image_file_id })));
  const fileIds = rows.flatMap((r) => (r.image_file_id === null ? [r.audio_file_id] : [r.audio_file_id, r.image_file_id]));
  const files = new Map<number, MediaFileRecord>();
  const users = new Map<number, UserRef>();
  if (fileIds.length > 0) {
    for (const row of await db.selectFrom('media_files').selectAll().where('id', 'in', [...new Set(fileIds)]).execute()) {
      files.set(row.id, toMediaFile(row));
    }
  }
  if (userIds.length > 0) {
    for (const row of await db.selectFrom('users').select(['id', 'username']).where('id', 'in', [...new Set(userIds)]).execute()) {
      users.set(row.id, { id: row.id, username: row.username });
    }
  }
  return { files, users, processing };
}

/**
 * Pairs rows with their loaded files. A row whose audio file row is missing was deleted
 * between the two queries (they are separate reads): it is left out, as gone.
 */
export function withFiles<R extends { audio_file_id: number; image_file_id: number | null }>(
  rows: R[],
  files: Map<number, MediaFileRecord>,
): Array<{ row: R; audio: MediaFileRecord; image: MediaFileRecord | null }> {
  return rows.flatMap((row) => {
    const audio = files.get(row.audio_file_id);
    return audio ? [{ row, audio, image: row.image_file_id === null ? null : (files.get(row.image_file_id) ?? null) }] : [];
  });
}

/** Deletes file rows inside a transaction; resolves their storage keys. */
export async function deleteFiles(trx: Transaction<Tables>, ids: Array<number | null>): Promise<string[]> {
  const present = ids.filter((id): id is number => id !== null);
  if (present.length === 0) return [];
  const renditions = await deleteRenditions(trx, present);
  const rows = await trx.selectFrom('media_files').select('storage_key').where('id', 'in', present).execute();
  await trx.deleteFrom('media_files').where('id', 'in', present).execute();
  return [...rows.map((r) => r.storage_key), ...renditions];
}
