import type { Selectable } from 'kysely';
import type { CreateOutcome, FilesToAttach } from '../../domain/media/ports.js';
import type { MessageFilter, MessageRecord, MessageRepository, NewMessage } from '../../domain/messages/ports.js';
import type { OutboxWriter } from '../../domain/jobs/outbox.js';
import type { Database } from '../database.js';
import type { MessagesTable } from '../schema.js';
import { createWithFiles, deleteFiles, loadViewParts, withFiles } from './media-files.js';

export class SqlMessageRepository implements MessageRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  private async hydrate(rows: Array<Selectable<MessagesTable>>): Promise<MessageRecord[]> {
    const { files, users, processing } = await loadViewParts(this.database.db, rows, rows.flatMap((r) => [r.sender_id, r.recipient_id]));
    return withFiles(rows, files).map(({ row, audio, image }) => ({
      id: row.id,
      senderId: row.sender_id,
      recipientId: row.recipient_id,
      uuid: row.uuid,
      title: row.title,
      parentId: row.parent_id,
      recordedAt: row.recorded_at,
      createdAt: row.created_at,
      sender: users.get(row.sender_id) ?? { id: row.sender_id, username: '' },
      recipient: users.get(row.recipient_id) ?? { id: row.recipient_id, username: '' },
      played: row.played === 1,
      senderDeleted: row.sender_deleted === 1,
      recipientDeleted: row.recipient_deleted === 1,
      audio,
      image,
      processing: processing.get(row.audio_file_id)!,
    }));
  }

  private async one(row: Selectable<MessagesTable> | undefined): Promise<MessageRecord | null> {
    return row ? ((await this.hydrate([row]))[0] ?? null) : null;
  }

  create(message: NewMessage, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<MessageRecord>> {
    const uuid = message.uuid;
    return createWithFiles(this.database.db, files, outbox, {
      type: 'message',
      createdAt: message.createdAt,
      insert: async (trx, stored) => {
        const row = await trx
          .insertInto('messages')
          .values({
            sender_id: message.senderId,
            recipient_id: message.recipientId,
            uuid,
            title: message.title,
            parent_id: message.parentId,
            played: 0,
            audio_file_id: stored.audioId,
            image_file_id: stored.imageId,
            recorded_at: message.recordedAt,
            sender_deleted: 0,
            recipient_deleted: 0,
            created_at: message.createdAt,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return row.id;
      },
      findById: (id) => this.findById(id),
      findExisting: uuid === null ? null : () => this.findByUuid(message.senderId, uuid),
    });
  }

  async findById(id: number): Promise<MessageRecord | null> {
    return this.one(await this.database.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst());
  }

  async findByUuid(senderId: number, uuid: string): Promise<MessageRecord | null> {
    return this.one(
      await this.database.db.selectFrom('messages').selectAll().where('sender_id', '=', senderId).where('uuid', '=', uuid).executeTakeFirst(),
    );
  }

  async list(filter: MessageFilter): Promise<MessageRecord[]> {
    let query = this.database.db.selectFrom('messages').selectAll();
    query =
      filter.box === 'inbox'
        ? query
            .where('recipient_id', '=', filter.userId)
            .where('recipient_deleted', '=', 0)
            .where('sender_id', 'not in', (eb) => eb.selectFrom('blocks').select('blocked_id').where('blocker_id', '=', filter.userId))
        : query.where('sender_id', '=', filter.userId).where('sender_deleted', '=', 0);
    if (filter.maxTime !== undefined) query = query.where('created_at', '<=', filter.maxTime);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
    return this.hydrate(rows);
  }

  async markPlayed(id: number, played: boolean): Promise<void> {
    await this.database.db.updateTable('messages').set({ played: played ? 1 : 0 }).where('id', '=', id).execute();
  }

  async deleteFor(id: number, side: 'sender' | 'recipient'): Promise<string[]> {
    return this.database.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('messages')
        .set(side === 'sender' ? { sender_deleted: 1 } : { recipient_deleted: 1 })
        .where('id', '=', id)
        .execute();
      const row = await trx
        .selectFrom('messages')
        .select(['audio_file_id', 'image_file_id', 'sender_deleted', 'recipient_deleted'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || row.sender_deleted !== 1 || row.recipient_deleted !== 1) return [];
      await trx.deleteFrom('messages').where('id', '=', id).execute();
      await trx.deleteFrom('attachments').where('used_by_type', '=', 'message').where('used_by_id', '=', id).execute();
      return deleteFiles(trx, [row.audio_file_id, row.image_file_id]);
    });
  }
}
