import type { ExternalIdentityRepository, NewUser, UserRecord } from '../../domain/users/ports.js';
import type { Database } from '../database.js';
import { isUniqueViolation } from './errors.js';
import { toUser, userRow } from './users-repository.js';

export class SqlExternalIdentityRepository implements ExternalIdentityRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async findUser(issuer: string, subject: string): Promise<UserRecord | null> {
    const row = await this.database.db
      .selectFrom('external_identities')
      .innerJoin('users', 'users.id', 'external_identities.user_id')
      .selectAll('users')
      .where('external_identities.issuer', '=', issuer)
      .where('external_identities.subject', '=', subject)
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async createLinkedUser(user: NewUser, issuer: string, subject: string): Promise<UserRecord | null> {
    try {
      return await this.database.db.transaction().execute(async (trx) => {
        const row = await trx.insertInto('users').values(userRow(user)).returningAll().executeTakeFirstOrThrow();
        await trx.insertInto('external_identities').values({ issuer, subject, user_id: row.id, created_at: user.createdAt }).execute();
        return toUser(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }
}
