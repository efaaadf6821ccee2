/**
 * Opens the metadata database named by a URL: SQLite (a file path or sqlite:PATH)
 * by default, PostgreSQL for postgres:// URLs. Runs pending migrations.
 */
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Migrator } from 'kysely/migration';
import { runDirectly, type DirectRunner } from './compiled-query.js';
import { isDiskFull, reportingFullDisk, translate } from './full-disk.js';
import { migrationProvider } from './migrations.js';
import { SpaceReserve } from './space-reserve.js';
import type { Tables } from './schema.js';

export type SqlDialectName = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: SqlDialectName;
  /**
   * Commits made by `fn` (one statement, or a transaction it opens on `db`) are durable when
   * this resolves, like any other, but their sync may be shared with concurrent ones (group
   * commit): for the frequent small commits of the upload path. SQLite with durable writes
   * commits them without the fsync on the request thread, then waits for one fdatasync of the
   * WAL that covers every commit made before it started.
   */
  groupCommit<T>(fn: (db: Kysely<Tables>) => Promise<T>): Promise<T>;
  /**
   * Runs a delete, which must work on a full disk (deletes are what make room). Where the
   * database holds space in reserve (SQLite), a delete that fails for want of space releases
   * it and runs once more.
   */
  freeingSpace<T>(fn: (db: Kysely<Tables>) => Promise<T>): Promise<T>;
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
      : await openSqlite(options.url.replace(/^sqlite:/, ''), options.durable);
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

/**
 * Runs compileOnce's queries on the handle as Kysely's SQLite driver would (all rows of a
 * statement that returns any, else the change count), outside transactions only.
 */
function directStatements(sqlite: SQLite.Database, allow: { writes: boolean }): DirectRunner {
  return (sql, parameters) => {
    if (sqlite.inTransaction) return null;
    const statement = sqlite.prepare(sql);
    if (!statement.readonly && !allow.writes) return null;
    try {
      if (statement.reader) return { rows: statement.all(parameters) };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (error) {
      return translate(error);
    }
  };
}

/**
 * One fdatasync of a file shared by everyone who asks while it is not yet under way: a caller
 * waits for a sync that started after it asked, so every write it made before is covered.
 */
export class GroupSync {
  private readonly syncOnce: () => Promise<void>;

  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(syncOnce: () => Promise<void>) {
    this.syncOnce = syncOnce;
  }

  sync(): Promise<void> {
    if (!this.running) return this.start();
    // The sync under way may have started before the caller's writes: share the one after it.
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.syncOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}

async function openSqlite(file: string, durable: boolean): Promise<Database> {
  const sqlite = withStatementCache(new SQLite(file));
  sqlite.pragma('journal_mode = WAL');
  // WAL with FULL survives power loss for every commit; NORMAL only process crashes.
  sqlite.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Tables>({ dialect: reportingFullDisk(new SqliteDialect({ database: sqlite }), { inTransaction: () => sqlite.inTransaction }) });
  // Reads need no turn on the connection unless a transaction holds it (they would read into
  // it). Writes do: one run during a group commit would skip its sync (groupCommit below).
  runDirectly(db, directStatements(sqlite, { writes: false }));
  const reserve = sqlite.memory ? null : new SpaceReserve(`${sqlite.name}-reserve`);
  await reserve?.fill();
  const freeingSpace = async <T>(fn: (db: Kysely<Tables>) => Promise<T>): Promise<T> => {
    try {
      return await fn(db);
    } catch (error) {
      // Once more in the reserve's room (or in room a concurrent delete has just made).
      if (!reserve || !isDiskFull(error)) throw error;
      reserve.release();
      return fn(db);
    }
  };
  const closeSqlite = () => {
    reserve?.close();
    return db.destroy();
  };
  if (!durable || sqlite.memory) return { db, dialect: 'sqlite', groupCommit: (fn) => fn(db), freeingSpace, close: closeSqlite };

  const directWrites = directStatements(sqlite, { writes: true });
  const syncNormal = sqlite.prepare('PRAGMA synchronous = NORMAL');
  const syncFull = sqlite.prepare('PRAGMA synchronous = FULL');
  // The WAL file, opened once: SQLite keeps it (same inode) for as long as this connection is
  // open, and removes it only when the last connection closes, i.e. after close() below.
  let wal: Promise<FileHandle> | null = null;
  const walSync = new GroupSync(async () => {
    wal ??= fs.open(`${sqlite.name}-wal`, 'r').catch((error: unknown) => {
      wal = null;
      throw error;
    });
    await (await wal).datasync();
  });
  return {
    db,
    dialect: 'sqlite',
    async groupCommit(fn) {
      // The safety level can only change outside a transaction: the connection is held (no
      // other statement runs) from lowering it to restoring it, so only this commit skips the sync.
      const result = await db.connection().execute(async (connection) => {
        // Set on the handle itself: Kysely's round trip per statement would cost more than them.
        syncNormal.run();
        // The connection is ours until the sync level is restored: writes may run directly too.
        runDirectly(connection, directWrites);
        try {
          return await fn(connection);
        } finally {
          syncFull.run();
        }
      });
      // Durable before the caller goes on: one fdatasync of the WAL for this and concurrent commits.
      await walSync.sync();
      return result;
    },
    freeingSpace,
    async close() {
      await (await wal?.catch(() => null))?.close();
      await closeSqlite();
    },
  };
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
  const db = new Kysely<Tables>({ dialect: reportingFullDisk(new PostgresDialect({ pool })) });
  // PostgreSQL groups commits' WAL flushes itself. Its data directory is its own to keep room in.
  return { db, dialect: 'postgres', groupCommit: (fn) => fn(db), freeingSpace: (fn) => fn(db), close: () => db.destroy() };
}
