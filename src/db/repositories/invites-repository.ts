import type { Selectable } from 'kysely';
import type { InvitedRegistration, InviteRecord, InviteRepository, NewUser } from '../../domain/users/ports.js';
import type { Database } from '../database.js';
import type { InviteCodesTable } from '../schema.js';
import { isUniqueViolation } from './errors.js';
import { toUser, userRow } from './users-repository.js';

function toInvite(row: Selectable<InviteCodesTable>): InviteRecord {
  return { id: row.id, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at, usedBy: row.used_by };
}

/** Rolls the registration back when the username is taken, the code unspent. */
class UsernameTaken extends Error {}

export class SqlInviteRepository implements InviteRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async create(codeHash: string, createdAt: number, expiresAt: number): Promise<InviteRecord> {
    const row = await this.database.db
      .insertInto('invite_codes')
      .values({ code_hash: codeHash, created_at: createdAt, expires_at: expiresAt, used_at: null, used_by: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toInvite(row);
  }

  async register(user: NewUser, codeHash: string, now: number): Promise<InvitedRegistration> {
    try {
      return await this.database.db.transaction().execute(async (trx) => {
        // The conditional update is the check: of two registrations with one code, one spends it.
        const spent = await trx
          .updateTable('invite_codes')
          .set({ used_at: now })
          .where('code_hash', '=', codeHash)
          .where('used_at', 'is', null)
          .where('expires_at', '>', now)
          .executeTakeFirst();
        if (Number(spent.numUpdatedRows) !== 1) return { inviteInvalid: true as const };
        const row = await trx
          .insertInto('users')
          .values(userRow(user))
          .returningAll()
          .executeTakeFirstOrThrow()
          .catch((error: unknown) => {
            throw isUniqueViolation(error) ? new UsernameTaken() : error;
          });
        await trx.updateTable('invite_codes').set({ used_by: row.id }).where('code_hash', '=', codeHash).execute();
        return { user: toUser(row) };
      });
    } catch (error) {
      if (error instanceof UsernameTaken) return { usernameTaken: true };
      throw error;
    }
  }

  async list(page: { offset: number; limit: number; unusedAt?: number | undefined }): Promise<InviteRecord[]> {
    let query = this.database.db.selectFrom('invite_codes').selectAll();
    if (page.unusedAt !== undefined) query = query.where('used_at', 'is', null).where('expires_at', '>', page.unusedAt);
    const rows = await query.orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
    return rows.map(toInvite);
  }

  async deleteUnused(id: number): Promise<boolean> {
    const result = await this.database.db.deleteFrom('invite_codes').where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
