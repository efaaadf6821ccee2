/**
 * The database on a full disk (src/db/full-disk.ts, src/db/space-reserve.ts): SQLite on a small
 * file system of its own. A transaction that runs out of space fails as a full disk (ENOSPC),
 * not with the rollback's "no transaction is active"; a delete works on the full disk, in the
 * reserve's room; and the database writes again, and the reserve is back, once space returns.
 */
import assert from 'node:assert/strict';
import { rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.js';
import { DatabaseDiskFull } from '../../src/db/full-disk.js';
import { mountingNotAllowed, withSmallDisk } from '../helpers/small-disk.js';

const cannotMount = await mountingNotAllowed();

describe('SQLite on a full disk', { skip: cannotMount }, () => {
  test('a failed transaction says the disk is full; a delete still works; writes resume when space returns', async () => {
    await withSmallDisk(16, async (dir) => {
      const file = path.join(dir, 'db.sqlite');
      const database = await openDatabase({ url: file, durable: true });
      const filler = path.join(dir, 'filler');
      try {
        assert.ok(await stat(`${file}-reserve`), 'no space reserve was written at start');
        await sql`create table t (b blob)`.execute(database.db);
        await sql`insert into t values (randomblob(1000))`.execute(database.db);
        const { bavail, bsize } = await statfs(dir);
        await writeFile(filler, Buffer.alloc(bavail * bsize - 64 * 1024));

        // Larger than SQLite's page cache: it spills to the WAL midway and ends the transaction itself.
        const failure = await database.db
          .transaction()
          .execute(async (trx) => {
            for (let i = 0; i < 100; i += 1) await sql`insert into t values (randomblob(100000))`.execute(trx);
          })
          .then(
            () => null,
            (error: unknown) => error,
          );
        assert.ok(failure instanceof DatabaseDiskFull, `not a full disk: ${String(failure)}`);
        assert.equal(failure.code, 'ENOSPC');

        // Space returns, and goes again: now the WAL ends where its last commit does (no frames of a
        // failed write to reuse), so the delete must grow it on a disk without a byte free.
        await rm(filler);
        await sql`pragma wal_checkpoint(truncate)`.execute(database.db);
        await sql`insert into t values (randomblob(1000))`.execute(database.db);
        const room = await statfs(dir);
        await writeFile(filler, Buffer.alloc(room.bavail * room.bsize));
        const deleted = await database.freeingSpace((db) => sql`delete from t`.execute(db));
        assert.equal(deleted.numAffectedRows, 2n);
        assert.equal(await stat(`${file}-reserve`).catch(() => null), null, 'the delete did not need the reserve: the disk was not full');

        await rm(filler);
        await sql`insert into t values (randomblob(100000))`.execute(database.db);
        for (let waited = 0; !(await stat(`${file}-reserve`).catch(() => null)) && waited < 20_000; waited += 250) await delay(250);
        assert.ok(await stat(`${file}-reserve`).catch(() => null), 'the space reserve was not written again');
      } finally {
        await database.close();
      }
    });
  });
});
