/**
 * Opens the metadata database named by a URL: SQLite (a file path or sqlite:PATH)
 * by default, PostgreSQL for postgres:// URLs. Runs pending migrations.
 */
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import { migrationProvider } from './migrations.js';
import type { Tables } from './schema.js';

export type SqlDialectName = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: SqlDialectName;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  /** Full fsync on every commit (SQLite); off only for benchmarks. */
  durable: boolean;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database =
    options.url.startsWith('postgres://') || options.url.startsWith('postgresql://')
      ? await openPostgres(options.url)
      : openSqlite(options.url.replace(/^sqlite:/, ''), options.durable);
  const migrator = new Migrator({ db: database.db, provider: migrationProvider(database.dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await database.close();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return database;
}

/**
 * better-sqlite3 with prepared statements reused by SQL text: Kysely prepares every query
 * afresh, which costs more than running it. Parameters are bound per call, so a statement
 * is safe to reuse; the cache is bounded (queries with IN lists of many sizes vary).
 */
function withStatementCache(sqlite: SQLite.Database, capacity = 256): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= capacity) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, statement);
    return statement;
  }) as typeof sqlite.prepare;
  return sqlite;
}

function openSqlite(file: string, durable: boolean): Database {
  const sqlite = withStatementCache(new SQLite(file));
  sqlite.pragma('journal_mode = WAL');
  // WAL with FULL survives power loss for every commit; NORMAL only process crashes.
  sqlite.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/** The pg driver is loaded only when PostgreSQL is used: SQLite servers need not carry it. */
async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  // int8 (bigint) columns hold byte counts and epoch milliseconds: all safe integers.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection the server closes (a restart, an administrator) emits 'error' on the
  // pool; unheard, that would crash the process. The pool drops it and connects anew.
  pool.on('error', () => undefined);
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}
