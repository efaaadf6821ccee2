/** Backups' holds on blob deletions (DeletionHolds), in the database: one row per holder. */
import type { DeletionHolds } from '../../domain/maintenance/ports.js';
import type { Database } from '../database.js';

export class SqlDeletionHolds implements DeletionHolds {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async hold(holder: string, until: number): Promise<void> {
    await this.database.db
      .insertInto('deletion_holds')
      .values({ holder, held_until: until })
      .onConflict((conflict) => conflict.column('holder').doUpdateSet({ held_until: until }))
      .execute();
  }

  async release(holder: string): Promise<void> {
    await this.database.db.deleteFrom('deletion_holds').where('holder', '=', holder).execute();
  }

  async active(now: number): Promise<boolean> {
    const row = await this.database.db.selectFrom('deletion_holds').select('holder').where('held_until', '>', now).limit(1).executeTakeFirst();
    return row !== undefined;
  }
}
