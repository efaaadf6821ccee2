import type { BlockRecord, BlockRepository } from '../../domain/users/ports.js';
import type { Database } from '../database.js';
import { isForeignKeyViolation } from './errors.js';

export class SqlBlockRepository implements BlockRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async add(blockerId: number, blockedId: number, now: number): Promise<{ created: boolean; createdAt: number } | null> {
    try {
      const inserted = await this.database.db
        .insertInto('blocks')
        .values({ blocker_id: blockerId, blocked_id: blockedId, created_at: now })
        .onConflict((conflict) => conflict.columns(['blocker_id', 'blocked_id']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { created: true, createdAt: now };
      const existing = await this.find(blockerId, blockedId);
      // Unblocked between the two statements: block again.
      return existing ? { created: false, createdAt: existing.created_at } : this.add(blockerId, blockedId, now);
    } catch (error) {
      // The user was deleted after the caller looked it up.
      if (isForeignKeyViolation(error)) return null;
      throw error;
    }
  }

  async remove(blockerId: number, blockedId: number): Promise<boolean> {
    const result = await this.database.db.deleteFrom('blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async list(blockerId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<BlockRecord[]> {
    let query = this.database.db
      .selectFrom('blocks')
      .innerJoin('users', 'users.id', 'blocks.blocked_id')
      .select(['users.id', 'users.username', 'blocks.created_at'])
      .where('blocks.blocker_id', '=', blockerId);
    if (page.maxTime !== undefined) query = query.where('blocks.created_at', '<=', page.maxTime);
    const rows = await query.orderBy('blocks.created_at', 'desc').orderBy('users.id', 'desc').limit(page.limit).offset(page.offset).execute();
    return rows.map((row) => ({ user: { id: row.id, username: row.username }, createdAt: row.created_at }));
  }

  async isBlocked(blockerId: number, blockedId: number): Promise<boolean> {
    return (await this.find(blockerId, blockedId)) !== undefined;
  }

  private find(blockerId: number, blockedId: number): Promise<{ created_at: number } | undefined> {
    return this.database.db.selectFrom('blocks').select('created_at').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).executeTakeFirst();
  }
}
