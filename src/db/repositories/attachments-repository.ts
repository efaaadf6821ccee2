import type { Kysely, Selectable, Transaction } from 'kysely';
import { planCommit } from '../../domain/attachments/commit-plan.js';
import { intersect, parseRangeSet, type ByteRange } from '../../domain/attachments/ranges.js';
import type { AttachmentCreateOutcome, AttachmentRecord, AttachmentRepository, AttachmentState, ExpiryCursor, NewAttachment, OpenAttachmentLimits, OverReservation, PieceLayout, RangeCommit, RecordRangeOutcome } from '../../domain/attachments/ports.js';
import type { TransactionScope } from '../../domain/jobs/ports.js';
import type { Database } from '../database.js';
import { compileOnce } from '../compiled-query.js';
import { scopeOf } from '../transaction-scope.js';
import type { AttachmentsTable, Tables } from '../schema.js';

/** The record of a row; `ranges` when the caller already has them parsed. */
function toAttachment(row: Selectable<AttachmentsTable>, ranges?: ByteRange[]): AttachmentRecord {
  return {
    id: row.id,
    userId: row.user_id,
    filename: row.filename,
    contentType: row.content_type,
    size: row.size_known ? row.size : null,
    ranges: ranges ?? parseRangeSet(JSON.parse(row.ranges)),
    receivedBytes: row.received_bytes,
    state: row.state as AttachmentState,
    sha1: row.sha1,
    usedBy: row.used_by_type === null || row.used_by_id === null ? null : { type: row.used_by_type as 'audio_clip' | 'message', id: row.used_by_id },
    storageKey: row.storage_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    contentVersion: row.content_version,
  };
}

// The per-chunk queries, compiled once.
const selectById = compileOnce<[id: number], Selectable<AttachmentsTable>>((db, id) => db.selectFrom('attachments').selectAll().where('id', '=', id));
const selectByIdForUpdate = compileOnce<[id: number], Selectable<AttachmentsTable>>((db, id) =>
  db.selectFrom('attachments').selectAll().where('id', '=', id).forUpdate(),
);
const selectOwned = compileOnce<[id: number, userId: number], Selectable<AttachmentsTable>>((db, id, userId) =>
  db.selectFrom('attachments').selectAll().where('id', '=', id).where('user_id', '=', userId),
);
/** Records a range on a row that is still exactly as it was seen (see recordOnSeen). */
const updateRangesIfUnchanged = compileOnce<
  [ranges: string, receivedBytes: number, updatedAt: number, expiresAt: number, contentVersion: number, id: number, storageKey: string, seenBytes: number, seenVersion: number, sizeKnown: number, size: number],
  Selectable<AttachmentsTable>
>((db, ranges, receivedBytes, updatedAt, expiresAt, contentVersion, id, storageKey, seenBytes, seenVersion, sizeKnown, size) =>
  db
    .updateTable('attachments')
    .set({ ranges, received_bytes: receivedBytes, updated_at: updatedAt, expires_at: expiresAt, content_version: contentVersion })
    .where('id', '=', id)
    .where('storage_key', '=', storageKey)
    .where('state', '=', 'uploading')
    .where('received_bytes', '=', seenBytes)
    .where('content_version', '=', seenVersion)
    .where('size_known', '=', sizeKnown)
    .where('size', '=', size)
    // The row as stored: columns the caller's reading may not have caught (a sniffed type).
    .returningAll(),
);

// An upload's own statements (its creation, its sniffed type, its completion), compiled once too:
// with small files they run nearly as often as chunks.
const selectUserRow = compileOnce<[id: number], Selectable<Tables['users']>>((db, id) => db.selectFrom('users').selectAll().where('id', '=', id));
const selectUserRowForUpdate = compileOnce<[id: number], Selectable<Tables['users']>>((db, id) => db.selectFrom('users').selectAll().where('id', '=', id).forUpdate());
const selectOpenTotals = compileOnce<[userId: number], { open: number | string; reserved: number | string }>((db, userId) => openTotalsQuery(db, userId));
const selectReservedBytes = compileOnce<[], { reserved: number | string }>((db) =>
  db
    .selectFrom('attachments')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>(eb('size', '-', eb.ref('received_bytes'))), eb.lit(0)).as('reserved'))
    .where('state', '=', 'uploading')
    .where('size_known', '=', 1),
);
const insertAttachment = compileOnce<
  [userId: number, filename: string, contentType: string | null, size: number, sizeKnown: number, storageKey: string, createdAt: number, expiresAt: number],
  Selectable<AttachmentsTable>
>((db, userId, filename, contentType, size, sizeKnown, storageKey, createdAt, expiresAt) =>
  db
    .insertInto('attachments')
    .values({
      user_id: userId,
      filename,
      content_type: contentType,
      size,
      size_known: sizeKnown,
      ranges: '[]',
      received_bytes: 0,
      state: 'uploading',
      storage_key: storageKey,
      created_at: createdAt,
      updated_at: createdAt,
      expires_at: expiresAt,
    })
    .returningAll(),
);
const updateContentType = compileOnce<[contentType: string, id: number], Selectable<AttachmentsTable>>((db, contentType, id) =>
  db.updateTable('attachments').set({ content_type: contentType }).where('id', '=', id).where('state', '=', 'uploading').returningAll(),
);
type CompletionArgs = [sha1: string, contentType: string | null, updatedAt: number, expiresAt: number, id: number, contentVersion: number];
/** Completes a row still uploading at the content version that was hashed, with every byte recorded. */
const completionOf = (db: Kysely<Tables>, set: { sha1: string; content_type: string | null; updated_at: number; expires_at: number; storage_key?: string }, id: number, contentVersion: number) =>
  db
    .updateTable('attachments')
    .set({ state: 'complete', ...set })
    .where('id', '=', id)
    .where('state', '=', 'uploading')
    .where('content_version', '=', contentVersion)
    .where('size_known', '=', 1)
    .whereRef('received_bytes', '=', 'size')
    .returningAll();
const completeInPlace = compileOnce<CompletionArgs, Selectable<AttachmentsTable>>((db, sha1, contentType, updatedAt, expiresAt, id, contentVersion) =>
  completionOf(db, { sha1, content_type: contentType, updated_at: updatedAt, expires_at: expiresAt }, id, contentVersion),
);
const completeAssembled = compileOnce<[...CompletionArgs, storageKey: string], Selectable<AttachmentsTable>>(
  (db, sha1, contentType, updatedAt, expiresAt, id, contentVersion, storageKey) =>
    completionOf(db, { sha1, content_type: contentType, updated_at: updatedAt, expires_at: expiresAt, storage_key: storageKey }, id, contentVersion),
);

/**
 * What a user's attachments not used yet add up to: how many, and the bytes declared but not
 * received. Partial uploads consumed by a final do not count.
 */
function openTotalsQuery(db: Kysely<Tables>, userId: number) {
  return db
    .selectFrom('attachments')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('open'),
      eb.fn
        .coalesce(
          eb.fn.sum<number | string>(
            eb
              .case()
              .when(eb.and([eb('state', '=', 'uploading'), eb('size_known', '=', 1)]))
              .then(eb('size', '-', eb.ref('received_bytes')))
              .else(0)
              .end(),
          ),
          eb.lit(0),
        )
        .as('reserved'),
    ])
    .where('user_id', '=', userId)
    .where('state', '!=', 'used')
    .where('consumed_by', 'is', null);
}

export class SqlAttachmentRepository implements AttachmentRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  /** The row, read with SELECT … FOR UPDATE where the database has row locks; SQLite serialises writers anyway. */
  private async lockAttachment(trx: Transaction<Tables>, id: number): Promise<Selectable<AttachmentsTable> | undefined> {
    return (await (this.database.dialect === 'postgres' ? selectByIdForUpdate : selectById).run(trx, id)).rows[0];
  }

  /** Locks an owner's row, as lockAttachment does: creates and size fixes that count against its limits take turns. */
  private async lockUser(trx: Transaction<Tables>, userId: number): Promise<void> {
    await (this.database.dialect === 'postgres' ? selectUserRowForUpdate : selectUserRow).run(trx, userId);
  }

  /** openTotalsQuery's figures, leaving out the attachments about to be consumed (`consumes`). */
  private async openTotals(trx: Transaction<Tables>, userId: number, consumes: number[] = []): Promise<{ open: number; reservedBytes: number }> {
    const totals =
      consumes.length === 0
        ? (await selectOpenTotals.run(trx, userId)).rows[0]!
        : await openTotalsQuery(trx, userId).where('id', 'not in', consumes).executeTakeFirstOrThrow();
    return { open: Number(totals.open), reservedBytes: Number(totals.reserved) };
  }

  async createWithinLimit(attachment: NewAttachment, limits: OpenAttachmentLimits): Promise<AttachmentCreateOutcome> {
    // Uploads start as often as chunks arrive with small files: their commits share syncs too.
    return this.database.groupCommit((db) => db.transaction().execute(async (trx): Promise<AttachmentCreateOutcome> => {
      // Lock the owner so two creates cannot both pass the limits.
      await this.lockUser(trx, attachment.userId);
      const consumes = attachment.consumes ?? [];
      const { open, reservedBytes } = await this.openTotals(trx, attachment.userId, consumes);
      if (open >= limits.maxOpen) return { tooManyOpen: true };
      if (reservedBytes + (attachment.size ?? 0) > limits.maxReservedBytes) return { overReservation: { reservedBytes } };
      const [row] = (
        await insertAttachment.run(
          trx,
          attachment.userId,
          attachment.filename,
          attachment.contentType,
          attachment.size ?? 0,
          attachment.size === null ? 0 : 1,
          attachment.storageKey,
          attachment.createdAt,
          attachment.expiresAt,
        )
      ).rows;
      if (!row) throw new Error('inserting an attachment returned no row');
      if (consumes.length > 0) {
        await trx.updateTable('attachments').set({ consumed_by: row.id }).where('user_id', '=', attachment.userId).where('id', 'in', consumes).execute();
      }
      return { created: toAttachment(row) };
    }));
  }

  async findById(id: number): Promise<AttachmentRecord | null> {
    const [row] = (await selectById.run(this.database.db, id)).rows;
    return row ? toAttachment(row) : null;
  }

  async findOwned(id: number, userId: number): Promise<AttachmentRecord | null> {
    const [row] = (await selectOwned.run(this.database.db, id, userId)).rows;
    return row ? toAttachment(row) : null;
  }

  async reservedBytes(): Promise<number> {
    const [totals] = (await selectReservedBytes.run(this.database.db)).rows;
    return Number(totals?.reserved ?? 0);
  }

  async recordRange(id: number, commit: RangeCommit, maxRanges: number, now: number, expiresAt: number): Promise<RecordRangeOutcome> {
    return (await this.recordOnSeen(commit, maxRanges, now, expiresAt)) ?? this.recordLocked(id, commit, maxRanges, now, expiresAt);
  }

  /**
   * The usual case in one statement: the row is still as the caller last saw it (ranges only
   * grow, so the same received byte count and content version mean the same ranges), and the
   * chunk simply adds its range. Anything else (a piece, a change by another request, a limit)
   * is left to recordLocked: null.
   */
  private async recordOnSeen(commit: RangeCommit, maxRanges: number, now: number, expiresAt: number): Promise<RecordRangeOutcome | null> {
    const { seen } = commit;
    if (!seen || commit.piece) return null;
    const plan = planCommit(seen, commit, maxRanges);
    if (plan.kind !== 'record') return null;
    const result = await this.database.groupCommit((db) =>
      updateRangesIfUnchanged.run(
        db,
        JSON.stringify(plan.ranges),
        plan.receivedBytes,
        now,
        expiresAt,
        plan.contentVersion,
        seen.id,
        seen.storageKey,
        seen.receivedBytes,
        seen.contentVersion,
        seen.size === null ? 0 : 1,
        seen.size ?? 0,
      ),
    );
    const [row] = result.rows;
    return row ? { recorded: toAttachment(row, plan.ranges), bumped: commit.changesRecorded } : null;
  }

  private recordLocked(id: number, commit: RangeCommit, maxRanges: number, now: number, expiresAt: number): Promise<RecordRangeOutcome> {
    // Every chunk commits here: concurrent chunks share the sync of their commits.
    return this.database.groupCommit((db) =>
      db.transaction().execute(async (trx): Promise<RecordRangeOutcome> => {
        const row = await this.lockAttachment(trx, id);
        if (!row) return { gone: true };
        const current = toAttachment(row);
        const changesRecorded = await this.changesRecorded(trx, id, current.ranges, commit);
        const plan = planCommit(current, { ...commit, changesRecorded }, maxRanges);
        switch (plan.kind) {
          // A size fixed meanwhile (SPEC 3.8) bounds what may be recorded: the caller sees the row unchanged.
          case 'beyond_size':
          case 'repeat':
            return { recorded: current, bumped: false };
          case 'offset_moved':
            return { offsetMoved: current };
          case 'complete':
            return { complete: current };
          case 'too_many_ranges':
            return { tooManyRanges: true };
        }
        const update = {
          ranges: JSON.stringify(plan.ranges),
          received_bytes: plan.receivedBytes,
          updated_at: now,
          expires_at: expiresAt,
          content_version: plan.contentVersion,
        };
        await trx.updateTable('attachments').set(update).where('id', '=', id).execute();
        if (commit.piece) {
          await trx
            .insertInto('attachment_pieces')
            .values({ attachment_id: id, start_offset: commit.start, end_offset: commit.end, storage_key: commit.piece.storageKey, created_at: now })
            .execute();
        }
        return { recorded: toAttachment({ ...row, ...update }, plan.ranges), bumped: changesRecorded };
      }),
    );
  }

  /**
   * Whether a commit changes recorded bytes. The caller knows for the bytes it compared; a
   * piece also changes them where it overlaps recorded bytes it was not compared with: a
   * newer piece, or anything at all when it was not compared.
   */
  private async changesRecorded(trx: Transaction<Tables>, id: number, recorded: ByteRange[], commit: RangeCommit): Promise<boolean> {
    if (commit.changesRecorded) return true;
    if (!commit.piece || intersect(recorded, commit.start, commit.end).length === 0) return false;
    if (!commit.piece.compared) return true;
    const newer = await trx
      .selectFrom('attachment_pieces')
      .select('id')
      .where('attachment_id', '=', id)
      .where('id', '>', commit.piece.comparedThrough)
      .where('start_offset', '<', commit.end)
      .where('end_offset', '>', commit.start)
      .executeTakeFirst();
    return newer !== undefined;
  }

  async findLayout(id: number): Promise<PieceLayout | null> {
    // The row first: pieces read after it are at least as new as its content version.
    const record = await this.findById(id);
    if (!record) return null;
    const rows = await this.database.db
      .selectFrom('attachment_pieces')
      .select(['id', 'start_offset', 'end_offset', 'storage_key'])
      .where('attachment_id', '=', id)
      .orderBy('id')
      .execute();
    return { record, pieces: rows.map((r) => ({ id: r.id, start: r.start_offset, end: r.end_offset, storageKey: r.storage_key })) };
  }

  async deletePieces(id: number): Promise<string[]> {
    const rows = await this.database.db.deleteFrom('attachment_pieces').where('attachment_id', '=', id).returning('storage_key').execute();
    return rows.map((r) => r.storage_key);
  }

  async setContentType(id: number, contentType: string): Promise<AttachmentRecord | null> {
    const [row] = (await this.database.groupCommit((db) => updateContentType.run(db, contentType, id))).rows;
    return row ? toAttachment(row) : null;
  }

  async fixSize(id: number, size: number, now: number, maxReservedBytes: number): Promise<AttachmentRecord | OverReservation | null> {
    return this.database.db.transaction().execute(async (trx) => {
      // The owner first, as a create locks it: the size declares bytes that count against the owner's limit.
      const owner = await trx.selectFrom('attachments').select('user_id').where('id', '=', id).executeTakeFirst();
      if (!owner) return null;
      await this.lockUser(trx, owner.user_id);
      const row = await this.lockAttachment(trx, id);
      if (!row) return null;
      const highest = parseRangeSet(JSON.parse(row.ranges)).at(-1)?.[1] ?? 0;
      if (row.size_known || highest > size) return toAttachment(row);
      if (row.state === 'uploading') {
        const { reservedBytes } = await this.openTotals(trx, row.user_id);
        if (reservedBytes + size - row.received_bytes > maxReservedBytes) return { overReservation: { reservedBytes } };
      }
      const updated = await trx
        .updateTable('attachments')
        .set({ size, size_known: 1, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toAttachment(updated);
    });
  }

  async markComplete(
    id: number,
    completion: { sha1: string; contentVersion: number; contentType: string | null; storageKey?: string | undefined },
    now: number,
    expiresAt: number,
    outbox?: (scope: TransactionScope) => Promise<void>,
  ): Promise<AttachmentRecord | null> {
    const args: CompletionArgs = [completion.sha1, completion.contentType, now, expiresAt, id, completion.contentVersion];
    const complete = async (db: Kysely<Tables>) =>
      (completion.storageKey === undefined ? await completeInPlace.run(db, ...args) : await completeAssembled.run(db, ...args, completion.storageKey)).rows[0];
    // One per upload, like its first commit: shares its sync with the chunks' commits.
    return this.database.groupCommit(async (db) => {
      if (!outbox) {
        const row = await complete(db);
        return row ? toAttachment(row) : null;
      }
      return db.transaction().execute(async (trx) => {
        const row = await complete(trx);
        if (!row) return null;
        await outbox(scopeOf(trx));
        return toAttachment(row);
      });
    });
  }

  async deleteUnused(id: number): Promise<boolean> {
    // Conditional: a clip's transaction that made it used meanwhile wins (its bytes are the clip's).
    const result = await this.database.freeingSpace((db) => db.deleteFrom('attachments').where('id', '=', id).where('state', '!=', 'used').executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }

  async findWholeUploading(limit: number): Promise<AttachmentRecord[]> {
    const rows = await this.database.db
      .selectFrom('attachments')
      .selectAll()
      .where('state', '=', 'uploading')
      .where('size_known', '=', 1)
      .whereRef('received_bytes', '=', 'size')
      .limit(limit)
      .execute();
    return rows.map((row) => toAttachment(row));
  }

  async findExpired(now: number, limit: number, after?: ExpiryCursor): Promise<AttachmentRecord[]> {
    let query = this.database.db.selectFrom('attachments').selectAll().where('state', '!=', 'used').where('expires_at', '<=', now);
    // Keyset paging: the next page starts past the last row seen, busy or not.
    if (after) query = query.where((eb) => eb.or([eb('expires_at', '>', after.expiresAt), eb.and([eb('expires_at', '=', after.expiresAt), eb('id', '>', after.id)])]));
    const rows = await query.orderBy('expires_at').orderBy('id').limit(limit).execute();
    return rows.map((row) => toAttachment(row));
  }

  async listOpen(userId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<AttachmentRecord[]> {
    const rows = await this.database.db
      .selectFrom('attachments')
      .selectAll()
      .where('user_id', '=', userId)
      .where('state', '!=', 'used')
      .where('consumed_by', 'is', null)
      .$if(page.maxTime !== undefined, (query) => query.where('created_at', '<=', page.maxTime!))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map((row) => toAttachment(row));
  }

  async findConsumedBy(finalId: number): Promise<AttachmentRecord[]> {
    const rows = await this.database.db.selectFrom('attachments').selectAll().where('consumed_by', '=', finalId).orderBy('id').execute();
    return rows.map((row) => toAttachment(row));
  }

  async deleteIfConsumedBy(id: number, finalId: number): Promise<boolean> {
    const result = await this.database.freeingSpace((db) =>
      db.deleteFrom('attachments').where('id', '=', id).where('consumed_by', '=', finalId).where('state', '!=', 'used').executeTakeFirst(),
    );
    return Number(result.numDeletedRows) > 0;
  }

  async extendExpiry(id: number, expiresAt: number): Promise<void> {
    await this.database.db
      .updateTable('attachments')
      .set({ expires_at: expiresAt })
      .where('id', '=', id)
      .where('state', '!=', 'used')
      .where('expires_at', '<', expiresAt)
      .execute();
  }

  async deleteIfExpired(id: number, now: number): Promise<boolean> {
    const result = await this.database.freeingSpace((db) =>
      db.deleteFrom('attachments').where('id', '=', id).where('state', '!=', 'used').where('expires_at', '<=', now).executeTakeFirst(),
    );
    return Number(result.numDeletedRows) > 0;
  }
}
