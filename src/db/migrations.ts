/**
 * Schema migrations, in order. Each is written once and never edited after it has
 * shipped; a change to the schema is a new migration.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { SqlDialectName } from './database.js';

type DialectMigration = (db: Kysely<unknown>, dialect: SqlDialectName) => Promise<void>;

const migrations: Record<string, DialectMigration> = {
  '0001_users_tokens_attachments': async (db, dialect) => {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('users')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('username_key', 'text', (c) => c.notNull().unique())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('messaging_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('access_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', bigint, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('attachments')
      .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('filename', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text')
      .addColumn('size', bigint, (c) => c.notNull())
      .addColumn('ranges', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('received_bytes', bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('sha1', 'text')
      .addColumn('used_by_type', 'text')
      .addColumn('used_by_id', 'integer')
      .addColumn('storage_key', 'text', (c) => c.notNull())
      .addColumn('created_at', bigint, (c) => c.notNull())
      .addColumn('updated_at', bigint, (c) => c.notNull())
      .addColumn('expires_at', bigint)
      .execute();
    await db.schema.createIndex('attachments_user_state').on('attachments').columns(['user_id', 'state']).execute();
    await db.schema.createIndex('attachments_expires_at').on('attachments').column('expires_at').execute();
  },
};

export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, up] of Object.entries(migrations)) out[name] = { up: (db) => up(db, dialect) };
      return out;
    },
  };
}
