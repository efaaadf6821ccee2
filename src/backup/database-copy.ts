/**
 * The database half of a backup: SQLite's online backup API (a consistent copy of a database
 * in use, taken page by page between the server's writes), or PostgreSQL's pg_dump (one
 * snapshot, custom format); what that copy names in the store; and putting such a copy back.
 */
import SQLite from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { Kysely, SqliteDialect } from 'kysely';
import path from 'node:path';
import pg from 'pg';
import type { Database } from '../db/database.js';
import { namedBlobKeys } from '../db/repositories/blob-references.js';
import type { Tables } from '../db/schema.js';

export type DatabaseKind = 'sqlite' | 'postgres';

export function databaseKind(url: string): DatabaseKind {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

function sqlitePath(url: string): string {
  return url.replace(/^sqlite:/, '');
}

/** Runs a PostgreSQL client program; rejects with what it printed when it fails. */
function run(program: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (data: Buffer) => (errors += data.toString()));
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error(`${program} is not installed (Debian: apt-get install postgresql-client)`) : error),
    );
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${program} failed (exit ${code}): ${errors.trim()}`))));
  });
}

/** Runs pg_dump on an exported snapshot, so that the same snapshot can be queried meanwhile. */
function pgDump(url: string, file: string, snapshot: string): Promise<void> {
  return run('pg_dump', ['--format=custom', `--snapshot=${snapshot}`, `--file=${file}`, `--dbname=${url}`]);
}

/**
 * Writes a consistent copy of the database to `file` while servers keep using it, and resolves
 * the storage keys that copy names (which the backup's files must include). `live` is the
 * database itself, opened as the server opens it.
 */
export async function snapshotDatabase(live: Database, url: string, file: string, uploadsInPlace: boolean): Promise<string[]> {
  if (databaseKind(url) === 'postgres') {
    // One REPEATABLE READ snapshot, exported to pg_dump and queried here while it is held.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const dumped = pgDump(url, file, rows[0]!.id);
      const query = namedBlobKeys(live.db, uploadsInPlace).compile();
      const named = await client.query<{ storage_key: string }>(query.sql, [...query.parameters]);
      await dumped;
      await client.query('COMMIT');
      return named.rows.map((row) => row.storage_key);
    } finally {
      await client.end();
    }
  }
  const sqlite = new SQLite(sqlitePath(url), { readonly: true, fileMustExist: true });
  try {
    await sqlite.backup(file);
  } finally {
    sqlite.close();
  }
  // The copy stands alone in a rollback journal mode: no -wal or -shm file is left beside it.
  const standalone = new SQLite(file);
  standalone.pragma('journal_mode = DELETE');
  const copy = new Kysely<Tables>({ dialect: new SqliteDialect({ database: standalone }) });
  let named: string[];
  try {
    named = (await namedBlobKeys(copy, uploadsInPlace).execute()).map((row) => row.storage_key);
  } finally {
    await copy.destroy();
  }
  const handle = await fs.open(file, 'r');
  await handle.sync();
  await handle.close();
  return named;
}

/** Whether the database already holds Trickle's tables (a restore then needs `replace`). */
export async function databaseInUse(url: string): Promise<boolean> {
  if (databaseKind(url) === 'sqlite') return existsSync(sqlitePath(url));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ found: string | null }>("SELECT to_regclass('public.users')::text AS found");
    return rows[0]?.found !== null && rows[0]?.found !== undefined;
  } finally {
    await client.end();
  }
}

/** Drops every schema of the PostgreSQL database (Trickle's tables, pg-boss's), leaving an empty `public`. */
async function emptyPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'");
    await client.query('BEGIN');
    for (const { name } of rows) await client.query(`DROP SCHEMA ${client.escapeIdentifier(name)} CASCADE`);
    await client.query('CREATE SCHEMA IF NOT EXISTS public');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/**
 * Puts the copy back, keeping what was there: a SQLite file is moved aside (with its WAL); a
 * PostgreSQL database is first dumped to `asideDir`, then emptied and restored (pg_restore
 * --clean cannot drop pg-boss's partitioned tables). Resolves where the old database went.
 */
export async function restoreDatabase(url: string, file: string, asideDir: string): Promise<string | null> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (databaseKind(url) === 'postgres') {
    let aside: string | null = null;
    if (await databaseInUse(url)) {
      aside = path.join(asideDir, `database-before-restore-${stamp}.pgdump`);
      await fs.mkdir(asideDir, { recursive: true });
      await run('pg_dump', ['--format=custom', `--file=${aside}`, `--dbname=${url}`]);
      await emptyPostgres(url);
    }
    await run('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${url}`, file]);
    return aside;
  }
  const target = sqlitePath(url);
  let aside: string | null = null;
  if (existsSync(target)) {
    aside = `${target}.before-restore-${stamp}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(target + suffix)) await fs.rename(target + suffix, aside + suffix);
  }
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.copyFile(file, `${target}.restoring`);
  const handle = await fs.open(`${target}.restoring`, 'r');
  await handle.sync();
  await handle.close();
  await fs.rename(`${target}.restoring`, target);
  return aside;
}
