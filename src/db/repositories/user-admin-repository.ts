/** Administration queries over users (SPEC 10), on SQLite and PostgreSQL alike. */
import { sql } from 'kysely';
import type { StorageUse, UserAdminRepository, UserCounts, UserQuery, UserRecord, UserRef, UserState } from '../../domain/users/ports.js';
import type { Database } from '../database.js';
import { toUser } from './users-repository.js';

/** Escapes LIKE wildcards so a search for "a_b" means those characters. */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Bytes of what media processing made of one audio file: every rendition's size column. */
const RENDITION_SIZES = ['mp3_size', 'low_opus_size', 'low_aac_size', 'waveform_size'];
const PROCESSED_BYTES = (alias: string) => sql.raw(RENDITION_SIZES.map((column) => `coalesce(${alias}${column}, 0)`).join(' + '));

interface StorageRow {
  id: number;
  username: string;
  files: number | string;
  renditions: number | string;
  uploads: number | string;
}

function use(row: { files: number | string; renditions: number | string; uploads: number | string }): StorageUse {
  const files = Number(row.files);
  const renditions = Number(row.renditions);
  const uploads = Number(row.uploads);
  return { files, renditions, uploads, total: files + renditions + uploads };
}

export class SqlUserAdminRepository implements UserAdminRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async list(query: UserQuery): Promise<UserRecord[]> {
    let select = this.database.db.selectFrom('users').selectAll();
    if (query.text) {
      const pattern = likePattern(query.text);
      select = select.where(sql<boolean>`(username_key like ${pattern} escape '\\' or lower(email) like ${pattern} escape '\\')`);
    }
    if (query.state) select = select.where('state', '=', query.state);
    const rows = await select.orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute();
    return rows.map(toUser);
  }

  async setState(userId: number, from: UserState[], to: UserState): Promise<boolean> {
    const result = await this.database.db.updateTable('users').set({ state: to }).where('id', '=', userId).where('state', 'in', from).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async counts(userId: number): Promise<UserCounts> {
    const row = await sql<Record<Exclude<keyof UserCounts, 'subject'>, number | string>>`select
        (select count(*) from audio_clips where user_id = ${userId}) as clips,
        (select count(*) from messages where sender_id = ${userId}) as "messagesSent",
        (select count(*) from messages where recipient_id = ${userId}) as "messagesReceived",
        (select count(*) from attachments where user_id = ${userId} and state <> 'used') as "openAttachments",
        (select count(*) from access_tokens where user_id = ${userId}) as tokens,
        (select count(*) from blocks where blocker_id = ${userId}) as blocks`.execute(this.database.db);
    const counts = row.rows[0]!;
    const identity = await this.database.db.selectFrom('external_identities').select('subject').where('user_id', '=', userId).executeTakeFirst();
    return {
      clips: Number(counts.clips),
      messagesSent: Number(counts.messagesSent),
      messagesReceived: Number(counts.messagesReceived),
      openAttachments: Number(counts.openAttachments),
      tokens: Number(counts.tokens),
      blocks: Number(counts.blocks),
      subject: identity?.subject ?? null,
    };
  }

  async storage(limit: number, userId?: number): Promise<{ users: Array<StorageUse & UserRef>; all: StorageUse }> {
    // Per user: original files, what processing made of them, and bytes of attachments not used yet
    // (a used attachment's bytes are its file's). Each sum is grouped once, then joined to the users.
    const perUser = sql<StorageRow>`
      select u.id, u.username,
        coalesce(f.bytes, 0) as files,
        coalesce(p.bytes, 0) + coalesce(i.bytes, 0) as renditions,
        coalesce(a.bytes, 0) as uploads
      from users u
      left join (select user_id, sum(size) as bytes from media_files group by user_id) f on f.user_id = u.id
      left join (select mf.user_id, sum(${PROCESSED_BYTES('mp.')}) as bytes
                 from media_processing mp join media_files mf on mf.id = mp.audio_file_id group by mf.user_id) p on p.user_id = u.id
      left join (select mf.user_id, sum(ir.size) as bytes
                 from image_renditions ir join media_files mf on mf.id = ir.image_file_id group by mf.user_id) i on i.user_id = u.id
      left join (select user_id, sum(received_bytes) as bytes from attachments where state <> 'used' group by user_id) a on a.user_id = u.id`;
    const rows = await sql<StorageRow>`select * from (${perUser}) s
      ${userId === undefined ? sql`` : sql`where s.id = ${userId}`}
      order by s.files + s.renditions + s.uploads desc, s.id limit ${limit}`.execute(this.database.db);
    const all = await sql<Omit<StorageRow, 'id' | 'username'>>`select
        coalesce((select sum(size) from media_files), 0) as files,
        coalesce((select sum(${PROCESSED_BYTES('')}) from media_processing), 0)
          + coalesce((select sum(size) from image_renditions), 0) as renditions,
        coalesce((select sum(received_bytes) from attachments where state <> 'used'), 0) as uploads`.execute(this.database.db);
    return { users: rows.rows.map((row) => ({ id: row.id, username: row.username, ...use(row) })), all: use(all.rows[0]!) };
  }
}
