/** Erasing a user in SQL (SPEC 10): steps that each commit alone, blobs listed until deleted. */
import { sql, type Transaction } from 'kysely';
import type { TransactionScope } from '../../domain/jobs/ports.js';
import type { ErasedRecords, ErasedUser, ErasureRepository, UserState } from '../../domain/users/ports.js';
import type { Database } from '../database.js';
import type { Tables } from '../schema.js';
import { scopeOf } from '../transaction-scope.js';
import { deleteFiles } from './media-files.js';

/** Rows per insert into the pending list: well inside both databases' limits on parameters. */
const PENDING_ROWS_PER_INSERT = 500;

/**
 * A write first, on the user's row: on SQLite the transaction takes the write lock at its start
 * (waiting out another process's writer, an administrator's or another node's) instead of failing
 * when its read snapshot goes stale; on PostgreSQL it locks the row. False when the user is gone.
 */
async function lockUser(trx: Transaction<Tables>, userId: number): Promise<boolean> {
  const result = await trx.updateTable('users').set((eb) => ({ state: eb.ref('state') })).where('id', '=', userId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes attachments and their pieces; resolves the storage keys of both. */
async function deleteAttachments(trx: Transaction<Tables>, ids: number[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await trx.selectFrom('attachments').select('storage_key').where('id', 'in', ids).execute();
  const pieces = await trx.selectFrom('attachment_pieces').select('storage_key').where('attachment_id', 'in', ids).execute();
  // Pieces and tus details go with their attachment (foreign keys cascade).
  await trx.deleteFrom('attachments').where('id', 'in', ids).execute();
  return [...rows, ...pieces].map((row) => row.storage_key);
}

/** Deletes clips or messages and the attachments and files they used; resolves the storage keys. */
async function deleteRecords(
  trx: Transaction<Tables>,
  type: 'audio_clip' | 'message',
  rows: Array<{ id: number; audio_file_id: number; image_file_id: number | null }>,
): Promise<string[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  await trx.deleteFrom(type === 'audio_clip' ? 'audio_clips' : 'messages').where('id', 'in', ids).execute();
  const used = await trx.selectFrom('attachments').select('id').where('used_by_type', '=', type).where('used_by_id', 'in', ids).execute();
  const keys = await deleteAttachments(trx, used.map((row) => row.id));
  return [...keys, ...(await deleteFiles(trx, rows.flatMap((row) => [row.audio_file_id, row.image_file_id])))];
}

export class SqlErasureRepository implements ErasureRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async begin(userId: number, within: (scope: TransactionScope) => Promise<void>): Promise<boolean> {
    return this.database.db.transaction().execute(async (trx) => {
      const marked = await trx.updateTable('users').set({ state: 'erasing' }).where('id', '=', userId).where('state', '<>', 'erasing').executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return false;
      await trx.deleteFrom('access_tokens').where('user_id', '=', userId).execute();
      await within(scopeOf(trx));
      return true;
    });
  }

  async eraseBatch(userId: number, limit: number, now: number): Promise<ErasedRecords> {
    return this.database.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, userId))) return { clips: 0, messages: 0, attachments: 0, files: 0 };
      const keys: string[] = [];
      // Each kind only once the one before is exhausted (fewer rows than asked for): a used
      // attachment goes with its clip or message, so what is left of them afterwards is unused.
      const clips = await trx.selectFrom('audio_clips').select(['id', 'audio_file_id', 'image_file_id']).where('user_id', '=', userId).orderBy('id').limit(limit).execute();
      keys.push(...(await deleteRecords(trx, 'audio_clip', clips)));
      let room = limit - clips.length;
      const messages =
        room > 0
          ? await trx
              .selectFrom('messages')
              .select(['id', 'audio_file_id', 'image_file_id'])
              .where((eb) => eb.or([eb('sender_id', '=', userId), eb('recipient_id', '=', userId)]))
              .orderBy('id')
              .limit(room)
              .execute()
          : [];
      keys.push(...(await deleteRecords(trx, 'message', messages)));
      room -= messages.length;
      const attachments = room > 0 ? await trx.selectFrom('attachments').select('id').where('user_id', '=', userId).orderBy('id').limit(room).execute() : [];
      keys.push(...(await deleteAttachments(trx, attachments.map((row) => row.id))));
      room -= attachments.length;
      // Files of the user that nothing uses (none, unless a crash left some): they go too.
      const files =
        room > 0
          ? await trx
              .selectFrom('media_files')
              .select('id')
              .where('user_id', '=', userId)
              .where((eb) =>
                eb.not(
                  eb.or([
                    eb.exists(eb.selectFrom('audio_clips').select('id').where((c) => c.or([c('audio_clips.audio_file_id', '=', c.ref('media_files.id')), c('audio_clips.image_file_id', '=', c.ref('media_files.id'))]))),
                    eb.exists(eb.selectFrom('messages').select('id').where((m) => m.or([m('messages.audio_file_id', '=', m.ref('media_files.id')), m('messages.image_file_id', '=', m.ref('media_files.id'))]))),
                  ]),
                ),
              )
              .limit(room)
              .execute()
          : [];
      keys.push(...(await deleteFiles(trx, files.map((row) => row.id))));
      const unique = [...new Set(keys)];
      for (let at = 0; at < unique.length; at += PENDING_ROWS_PER_INSERT) {
        await trx
          .insertInto('blob_deletions')
          .values(unique.slice(at, at + PENDING_ROWS_PER_INSERT).map((key) => ({ storage_key: key, user_id: userId, created_at: now })))
          .onConflict((conflict) => conflict.column('storage_key').doNothing())
          .execute();
      }
      return { clips: clips.length, messages: messages.length, attachments: attachments.length, files: files.length };
    });
  }

  async pendingBlobs(userId: number, limit: number): Promise<string[]> {
    const rows = await this.database.db.selectFrom('blob_deletions').select('storage_key').where('user_id', '=', userId).orderBy('storage_key').limit(limit).execute();
    return rows.map((row) => row.storage_key);
  }

  async forgetBlobs(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.database.db.deleteFrom('blob_deletions').where('storage_key', 'in', keys).execute();
  }

  async finish(userId: number, within: (scope: TransactionScope, user: ErasedUser) => Promise<void>): Promise<'finished' | 'remaining' | 'gone'> {
    return this.database.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, userId))) return 'gone';
      const left = await sql<{ n: number }>`select (
          (select count(*) from audio_clips where user_id = ${userId})
        + (select count(*) from messages where sender_id = ${userId} or recipient_id = ${userId})
        + (select count(*) from attachments where user_id = ${userId})
        + (select count(*) from media_files where user_id = ${userId})
        + (select count(*) from blob_deletions where user_id = ${userId})) as n`.execute(trx);
      if (Number(left.rows[0]?.n ?? 0) > 0) return 'remaining';
      const identity = await trx.selectFrom('external_identities').select('subject').where('user_id', '=', userId).executeTakeFirst();
      // Tokens, identity links and blocks go with the row (foreign keys cascade); invites it used are kept, unnamed.
      await trx.deleteFrom('users').where('id', '=', userId).execute();
      await within(scopeOf(trx), { id: userId, subject: identity?.subject ?? null });
      return 'finished';
    });
  }

  async state(userId: number): Promise<UserState | null> {
    const row = await this.database.db.selectFrom('users').select('state').where('id', '=', userId).executeTakeFirst();
    return row ? (row.state as UserState) : null;
  }
}
