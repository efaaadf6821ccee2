/**
 * Backups and restores (docs/operations.md), for SQLite or PostgreSQL and the local disk or S3,
 * configured like the server (same environment and flags):
 *
 *   npm run backup -- --to DIR                   while servers run
 *   npm run restore -- --from DIR [--replace]     with every server stopped
 *   npm run kept-files -- [--release]             what the orphan sweep keeps after a restore
 *
 * A backup holds blob deletions (deletion-hold.ts) while it copies the stored files, takes the
 * database's snapshot and the list of files it names, copies what was written meanwhile, and
 * checks that every named file is in the copy (a file deleted before it could be copied, which
 * the hold prevents unless it lapsed, means another snapshot); then it moves the orphan
 * sweep's epoch on, so that a restore of this snapshot is always seen
 * (src/domain/maintenance/orphan-sweeper.ts). A restore puts the database back and adds the
 * files the store lacks, never replacing or deleting one, and has the sweep keep what the
 * restored database does not know.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { SqlBlobReferences } from '../db/repositories/blob-references.js';
import { SqlDeletionHolds } from '../db/repositories/deletion-holds.js';
import { SqlSweepLedger } from '../db/repositories/sweep-ledger.js';
import { OrphanSweeper } from '../domain/maintenance/orphan-sweeper.js';
import type { BlobStore } from '../domain/storage/ports.js';
import { openBlobStore } from '../storage/open-store.js';
import { copyBlobsIn, copyBlobsOut, type CopyCount } from './blob-copy.js';
import { databaseInUse, databaseKind, restoreDatabase, snapshotDatabase } from './database-copy.js';
import { holdingDeletions } from './deletion-hold.js';

const FORMAT = 1;
/**
 * A fallback: the deletion hold keeps every file a snapshot names until it is copied, but a hold
 * that lapsed (a backup stalled past its renewal), or deletions it does not cover (clips,
 * messages and accounts deleted), can still take one away; each try is short.
 */
const SNAPSHOT_ATTEMPTS = 20;
/** File times and this clock may differ by a little (coarse timestamps). */
const CLOCK_SLACK_MS = 2000;

interface Manifest {
  format: number;
  database: 'sqlite' | 'postgres';
  /** When the database snapshot began (epoch ms). */
  snapshot_at: number;
  finished_at: number;
  files: number;
  bytes: number;
}

const USAGE = `Usage:
  backup --to DIR [server options]            copy the database and the stored files (servers may run)
  restore --from DIR [--replace] [options]    put a backup back (stop every server first)
  kept [--release] [server options]           list the files the orphan sweep keeps after a restore; --release lets it delete them
Server options are those of npm start (and its environment): DATA_DIR, DATABASE_URL, STORAGE_URL, S3_*, ORPHAN_GRACE.
`;

interface Opened {
  config: Config;
  database: Database;
  store: BlobStore;
  sweeper: OrphanSweeper;
  close(): Promise<void>;
}

/** The database and the store as the server sees them, with a scratch folder of this process's own (a server's is emptied at its start). */
async function open(config: Config): Promise<Opened> {
  const scratch = path.join(config.dataDir, `scratch-backup-${process.pid}`);
  await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ url: config.databaseUrl, durable: config.durableWrites });
  const store = await openBlobStore(config, scratch);
  const sweeper = new OrphanSweeper(store, new SqlBlobReferences(database), new SqlSweepLedger(database), new SqlDeletionHolds(database), { now: () => Date.now() }, config.orphanGraceSeconds * 1000);
  return {
    config,
    database,
    store,
    sweeper,
    close: async () => {
      await store.close();
      await database.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

let say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Where the commands report (standard output by default; tests collect it). */
export function reportTo(write: (line: string) => void): void {
  say = write;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
/** A kept window's start: before the database's first sweep it reaches back to the beginning. */
const since = (at: number) => (at <= 0 ? 'the beginning' : new Date(at).toISOString());

/**
 * Copies the stored files into `files`, takes the database's snapshot into `database`, and copies
 * what was written meanwhile, until every file the snapshot names is in the copy. Run under a
 * deletion hold, the first snapshot does: it is taken after the hold, and no file it names is
 * deleted while the hold lasts (src/domain/maintenance/forgotten-blobs.ts).
 */
async function copyWithSnapshot(opened: Opened, files: string, database: string): Promise<{ snapshotAt: number; total: CopyCount }> {
  const inPlace = opened.store.kind === 'inPlace';
  let copiedSince = Date.now();
  const total = await copyBlobsOut(opened.store, files);
  let snapshotAt = 0;
  let missing: string[] = [];
  // Every file the snapshot names must be in the backup. One deleted before it was copied (the
  // hold lapsed, or a deletion it does not cover) means another snapshot.
  for (let attempt = 1; attempt <= SNAPSHOT_ATTEMPTS; attempt += 1) {
    snapshotAt = Date.now();
    const named = await snapshotDatabase(opened.database, opened.config.databaseUrl, database, inPlace);
    // Uploads on the local disk are written in place: what changed since the last pass goes again.
    const passStart = Date.now();
    const pass = await copyBlobsOut(opened.store, files, inPlace ? copiedSince - CLOCK_SLACK_MS : Infinity);
    copiedSince = passStart;
    total.files += pass.files;
    total.bytes += pass.bytes;
    missing = named.filter((key) => !existsSync(path.join(files, key)));
    if (missing.length === 0) return { snapshotAt, total };
    say(`${missing.length} files the snapshot names were deleted before they were copied: another snapshot`);
  }
  throw new Error(`after ${SNAPSHOT_ATTEMPTS} snapshots, files they name were still deleted before they could be copied: ${missing.slice(0, 5).join(', ')}…`);
}

async function backup(dir: string, config: Config): Promise<void> {
  const started = Date.now();
  const target = path.resolve(dir);
  const files = path.join(target, 'files');
  await mkdir(files, { recursive: true });
  const opened = await open(config);
  try {
    const kind = databaseKind(config.databaseUrl);
    const database = path.join(target, kind === 'sqlite' ? 'database.sqlite' : 'database.pgdump');
    // Held from before the first copy until the last check: see copyWithSnapshot.
    const { snapshotAt, total } = await holdingDeletions(new SqlDeletionHolds(opened.database), () => copyWithSnapshot(opened, files, database), say);
    // The epoch moves on after the snapshot (again, if another node moved it at the same moment).
    for (let attempt = 0; attempt < 10 && !(await opened.sweeper.fence()); attempt += 1);
    const manifest: Manifest = { format: FORMAT, database: kind, snapshot_at: snapshotAt, finished_at: Date.now(), files: total.files, bytes: total.bytes };
    await writeFile(path.join(target, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    say(`backup in ${target}: the ${kind} database as of ${new Date(snapshotAt).toISOString()}, ${manifest.files} files (${mib(manifest.bytes)}), in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await opened.close();
  }
}

async function restore(dir: string, replace: boolean, config: Config): Promise<void> {
  const started = Date.now();
  const source = path.resolve(dir);
  const manifest = JSON.parse(await readFile(path.join(source, 'manifest.json'), 'utf8')) as Manifest;
  if (manifest.format !== FORMAT) throw new Error(`${source} is a backup of format ${manifest.format}; this version reads format ${FORMAT}`);
  const kind = databaseKind(config.databaseUrl);
  if (manifest.database !== kind) throw new Error(`${source} holds a ${manifest.database} database, but DATABASE_URL names a ${kind} one`);
  if (!replace && (await databaseInUse(config.databaseUrl))) {
    throw new Error('the database already has data: --replace puts the backup in its place (the database there is kept: a SQLite file moved aside, a PostgreSQL one dumped into DATA_DIR)');
  }
  const aside = await restoreDatabase(config.databaseUrl, path.join(source, kind === 'sqlite' ? 'database.sqlite' : 'database.pgdump'), config.dataDir);
  if (aside) say(`the database that was there is now ${aside}`);
  const opened = await open(config);
  try {
    const copied = await copyBlobsIn(opened.store, path.join(source, 'files'));
    const window = await opened.sweeper.keepSinceEpoch(`restored from ${source} (database as of ${new Date(manifest.snapshot_at).toISOString()})`);
    say(`restored the ${kind} database as of ${new Date(manifest.snapshot_at).toISOString()}; ${copied.files} files put back (${mib(copied.bytes)}), ${copied.present} already there, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`the orphan sweep keeps stored files written from ${since(window.from)} to ${new Date(window.to).toISOString()} that no record names, until \`npm run kept-files -- --release\``);
  } finally {
    await opened.close();
  }
}

async function kept(release: boolean, config: Config): Promise<void> {
  const opened = await open(config);
  try {
    const ledger = new SqlSweepLedger(opened.database);
    for (const window of await ledger.keptWindows()) say(`kept: files written from ${since(window.from)} to ${new Date(window.to).toISOString()}: ${window.reason}`);
    const blobs = await opened.sweeper.keptBlobs();
    for (const blob of blobs) say(`${blob.key}  ${new Date(blob.modifiedAt).toISOString()}`);
    say(`${blobs.length} stored files kept that no record names`);
    if (release) say(`released ${await ledger.releaseKept()} windows: the orphan sweep deletes those files once they are older than ORPHAN_GRACE`);
  } finally {
    await opened.close();
  }
}

/** `env`: where the server's settings come from (this process's environment by default). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [command, ...rest] = argv;
  const { values, tokens } = parseArgs({
    args: rest,
    options: { to: { type: 'string' }, from: { type: 'string' }, replace: { type: 'boolean' }, release: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: false,
    tokens: true,
  });
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  // Everything else is the server's own options.
  const ours = new Set(['to', 'from', 'replace', 'release', 'help', 'h']);
  const serverArgs = tokens.flatMap((token) => {
    if (token.kind === 'option' && ours.has(token.name)) return [];
    if (token.kind === 'option') return [token.rawName, ...(token.value !== undefined ? [token.value] : [])];
    return token.kind === 'positional' ? [token.value] : [];
  });
  const config = loadConfig(serverArgs, env);
  if (command === 'backup' && typeof values.to === 'string') return backup(values.to, config);
  if (command === 'restore' && typeof values.from === 'string') return restore(values.from, values.replace === true, config);
  if (command === 'kept') return kept(values.release === true, config);
  throw new Error(`unknown command or missing folder\n${USAGE}`);
}
