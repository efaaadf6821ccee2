import { sql, type Selectable } from 'kysely';
import type { ClipChanges, ClipFilter, ClipRecord, ClipRepository, NewClip } from '../../domain/clips/ports.js';
import type { CreateOutcome, FilesToAttach } from '../../domain/media/ports.js';
import type { OutboxWriter } from '../../domain/jobs/outbox.js';
import type { Database } from '../database.js';
import type { AudioClipsTable } from '../schema.js';
import { createWithFiles, deleteFiles, loadViewParts, withFiles } from './media-files.js';

/** Escapes LIKE wildcards so a search for "50%" means those characters. */
function likePattern(query: string): string {
  return `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class SqlClipRepository implements ClipRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  private async hydrate(rows: Array<Selectable<AudioClipsTable>>): Promise<ClipRecord[]> {
    const { files, users, processing } = await loadViewParts(this.database.db, rows, rows.map((r) => r.user_id));
    return withFiles(rows, files).map(({ row, audio, image }) => ({
      id: row.id,
      userId: row.user_id,
      uuid: row.uuid,
      title: row.title,
      description: row.description,
      tags: JSON.parse(row.tags) as string[],
      recordedAt: row.recorded_at,
      location: { latitude: row.latitude, longitude: row.longitude, accuracy: row.accuracy },
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      owner: users.get(row.user_id) ?? { id: row.user_id, username: '' },
      audio,
      image,
      processing: processing.get(row.audio_file_id)!,
    }));
  }

  private async one(row: Selectable<AudioClipsTable> | undefined): Promise<ClipRecord | null> {
    return row ? ((await this.hydrate([row]))[0] ?? null) : null;
  }

  create(clip: NewClip, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<ClipRecord>> {
    const uuid = clip.uuid;
    return createWithFiles(this.database.db, files, outbox, {
      type: 'audio_clip',
      createdAt: clip.createdAt,
      insert: async (trx, stored) => {
        const row = await trx
          .insertInto('audio_clips')
          .values({
            user_id: clip.userId,
            uuid,
            title: clip.title,
            description: clip.description,
            tags: JSON.stringify(clip.tags),
            audio_file_id: stored.audioId,
            image_file_id: stored.imageId,
            recorded_at: clip.recordedAt,
            latitude: clip.location.latitude,
            longitude: clip.location.longitude,
            accuracy: clip.location.accuracy,
            created_at: clip.createdAt,
            updated_at: clip.createdAt,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return row.id;
      },
      findById: (id) => this.findById(id),
      findExisting: uuid === null ? null : () => this.findByUuid(clip.userId, uuid),
    });
  }

  async findById(id: number): Promise<ClipRecord | null> {
    return this.one(await this.database.db.selectFrom('audio_clips').selectAll().where('id', '=', id).executeTakeFirst());
  }

  async findByUuid(userId: number, uuid: string): Promise<ClipRecord | null> {
    return this.one(
      await this.database.db.selectFrom('audio_clips').selectAll().where('user_id', '=', userId).where('uuid', '=', uuid).executeTakeFirst(),
    );
  }

  async list(filter: ClipFilter): Promise<ClipRecord[]> {
    let query = this.database.db.selectFrom('audio_clips').selectAll();
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.maxTime !== undefined) query = query.where('created_at', '<=', filter.maxTime);
    if (filter.query) {
      const pattern = likePattern(filter.query);
      // SQLite has no default LIKE escape character; name it for both databases.
      query = query.where(sql<boolean>`(lower(title) like ${pattern} escape '\\' or lower(description) like ${pattern} escape '\\')`);
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
    return this.hydrate(rows);
  }

  async update(id: number, changes: ClipChanges): Promise<ClipRecord | null> {
    await this.database.db
      .updateTable('audio_clips')
      .set({
        ...(changes.title !== undefined ? { title: changes.title } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.tags !== undefined ? { tags: JSON.stringify(changes.tags) } : {}),
        ...(changes.recordedAt !== undefined ? { recorded_at: changes.recordedAt } : {}),
        updated_at: changes.updatedAt,
      })
      .where('id', '=', id)
      .execute();
    return this.findById(id);
  }

  async delete(id: number): Promise<string[]> {
    return this.database.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('audio_clips').select(['audio_file_id', 'image_file_id']).where('id', '=', id).executeTakeFirst();
      if (!row) return [];
      await trx.deleteFrom('audio_clips').where('id', '=', id).execute();
      // The attachments it used go with it: their bytes were the clip's files.
      await trx.deleteFrom('attachments').where('used_by_type', '=', 'audio_clip').where('used_by_id', '=', id).execute();
      return deleteFiles(trx, [row.audio_file_id, row.image_file_id]);
    });
  }
}
