/** The orphan sweep's epoch and kept windows (SweepLedger), in the database. */
import type { KeptWindow, SweepLedger } from '../../domain/maintenance/ports.js';
import type { Database } from '../database.js';

export class SqlSweepLedger implements SweepLedger {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async epoch(): Promise<{ epoch: number; advancedAt: number }> {
    const row = await this.database.db.selectFrom('sweep_epoch').select(['epoch', 'advanced_at']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { epoch: Number(row.epoch), advancedAt: Number(row.advanced_at) };
  }

  async advance(seen: number, next: number, now: number, keep: KeptWindow | null): Promise<boolean> {
    return this.database.db.transaction().execute(async (trx) => {
      const moved = await trx.updateTable('sweep_epoch').set({ epoch: next, advanced_at: now }).where('id', '=', 1).where('epoch', '=', seen).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
      if (keep) await trx.insertInto('kept_blob_windows').values({ from_at: keep.from, to_at: keep.to, found_at: now, reason: keep.reason }).execute();
      return true;
    });
  }

  async keptWindows(): Promise<KeptWindow[]> {
    const rows = await this.database.db.selectFrom('kept_blob_windows').select(['from_at', 'to_at', 'reason']).orderBy('id').execute();
    return rows.map((row) => ({ from: Number(row.from_at), to: Number(row.to_at), reason: row.reason }));
  }

  async releaseKept(): Promise<number> {
    const deleted = await this.database.db.deleteFrom('kept_blob_windows').executeTakeFirst();
    return Number(deleted.numDeletedRows);
  }
}
