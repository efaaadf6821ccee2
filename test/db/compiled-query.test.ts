/**
 * Queries compiled once (src/db/compiled-query.ts) and the one-statement range commit built on
 * them, on every database: the same rows as a freshly built query, and a row that changed since
 * it was seen is never overwritten by the short path.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileOnce } from '../../src/db/compiled-query.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SqlAttachmentRepository } from '../../src/db/repositories/attachments-repository.js';
import { SqlTokenRepository, SqlUserRepository } from '../../src/db/repositories/users-repository.js';
import type { AttachmentRecord } from '../../src/domain/attachments/ports.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';

const usersByPrefix = compileOnce<[prefix: string, limit: number], { id: number; username: string }>((db, prefix, limit) =>
  db.selectFrom('users').select(['id', 'username']).where('username', 'like', prefix).orderBy('id').limit(limit),
);

for (const kind of databaseKinds()) {
  describe(`compiled queries on ${kind.name}`, { skip: kind.skip }, () => {
    let dataDir: string;
    let testDatabase: TestDatabase;
    let database: Database;
    let userId: number;

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-compiled-'));
      testDatabase = await kind.create(dataDir);
      // Durable: on SQLite the range commit then takes the group-commit path.
      database = await openDatabase({ url: testDatabase.url, durable: true });
      const users = new SqlUserRepository(database);
      for (const name of ['alice', 'albert', 'bob']) {
        const user = await users.create({ username: name, email: `${name}@example.com`, passwordHash: 'x', createdAt: 1 });
        assert.ok(user);
        if (name === 'alice') userId = user.id;
      }
    });

    after(async () => {
      await database.close();
      await testDatabase.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('each call binds its own values and returns what a freshly built query returns', async () => {
      for (const [prefix, limit] of [['al%', 10], ['al%', 1], ['b%', 5], ['z%', 5]] as const) {
        const built = await database.db.selectFrom('users').select(['id', 'username']).where('username', 'like', prefix).orderBy('id').limit(limit).execute();
        const compiled = (await usersByPrefix.run(database.db, prefix, limit)).rows;
        assert.deepEqual(compiled, built);
      }
      assert.deepEqual((await usersByPrefix.run(database.db, 'al%', 10)).rows.map((row) => row.username), ['alice', 'albert']);
      // Inside a transaction, on its connection.
      const inside = await database.db.transaction().execute((trx) => usersByPrefix.run(trx, 'b%', 5));
      assert.deepEqual(inside.rows.map((row) => row.username), ['bob']);
    });

    test('an argument the query does not bind as a value is refused when it is compiled', async () => {
      const broken = compileOnce<[column: string], unknown>((db, _column) => db.selectFrom('users').select('id'));
      await assert.rejects(() => broken.run(database.db, 'id'), /argument 0 is not a parameter/);
    });

    test('a read never sees into a transaction that holds the connection', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let inserted!: () => void;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      const rolledBack = database.db
        .transaction()
        .execute(async (trx) => {
          try {
            await trx.insertInto('users').values({ username: 'carol', username_key: 'carol', email: 'carol@example.com', password_hash: 'x', messaging_enabled: 1, created_at: 1 }).execute();
          } finally {
            inserted();
          }
          await gate;
          throw new Error('roll back');
        })
        .catch((error: unknown) => error);
      await insertedYet;
      // On SQLite the read waits for the connection; it must not return the uncommitted row.
      const read = usersByPrefix.run(database.db, 'carol', 5);
      release();
      assert.deepEqual((await read).rows, []);
      assert.match(String(await rolledBack), /roll back/);
      // Nor afterwards: it was rolled back.
      assert.equal((await usersByPrefix.run(database.db, 'carol', 5)).rows.length, 0);
    });

    test('a write waits while a group commit holds the connection (it would skip the sync)', { skip: kind.name !== 'sqlite' }, async () => {
      const renameUser = compileOnce<[email: string, id: number], never>((db, email, id) => db.updateTable('users').set({ email }).where('id', '=', id));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const heldYet = new Promise<void>((resolve) => (holding = resolve));
      const group = database.groupCommit(async () => {
        holding();
        await gate;
      });
      await heldYet;
      let written = false;
      const write = renameUser.run(database.db, 'alice@elsewhere.example', userId).then(() => (written = true));
      // Reads go on meanwhile; the write does not.
      const during = await usersByPrefix.run(database.db, 'alice', 1);
      assert.equal(during.rows.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(written, false);
      release();
      await group;
      await write;
      const email = await database.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow();
      assert.equal(email.email, 'alice@elsewhere.example');
    });

    test('the token look-up honours expiry', async () => {
      const tokens = new SqlTokenRepository(database);
      await tokens.create('fresh', userId, 1, null);
      await tokens.create('lapsing', userId, 1, 1_000);
      assert.equal((await tokens.findUser('fresh', 5_000))?.username, 'alice');
      assert.equal((await tokens.findUser('lapsing', 999))?.username, 'alice');
      assert.equal(await tokens.findUser('lapsing', 1_000), null);
      assert.equal(await tokens.findUser('unknown', 0), null);
    });

    test('a range commit on a row seen before another commit records both ranges', async () => {
      const repo = new SqlAttachmentRepository(database);
      const limits = { maxOpen: 10, maxReservedBytes: 1000 };
      const outcome = await repo.createWithinLimit({ userId, filename: 'a', contentType: null, size: 100, storageKey: 'k', createdAt: 1, expiresAt: 10_000 }, limits);
      assert.ok('created' in outcome);
      const created = outcome.created;
      const change = { changesRecorded: false };
      const first = await repo.recordRange(created.id, { start: 0, end: 10, ...change, seen: created }, 100, 2, 10_000);
      assert.ok('recorded' in first);
      assert.deepEqual(first.recorded.ranges, [[0, 10]]);
      // `created` is stale now: the one-statement path must not apply, the locked one must merge.
      const second = await repo.recordRange(created.id, { start: 50, end: 60, ...change, seen: created }, 100, 3, 10_000);
      assert.ok('recorded' in second);
      assert.deepEqual(second.recorded.ranges, [[0, 10], [50, 60]]);
      const stored = (await repo.findById(created.id)) as AttachmentRecord;
      assert.deepEqual(stored.ranges, [[0, 10], [50, 60]]);
      assert.equal(stored.receivedBytes, 20);
      // A type sniffed since `stored` was read: not part of what must match, but the reply shows it.
      await repo.setContentType(created.id, 'audio/wav');
      // Seen as it is now: the short path, and the row agrees with what it returned.
      const third = await repo.recordRange(created.id, { start: 10, end: 50, changesRecorded: true, seen: stored }, 100, 4, 20_000);
      assert.ok('recorded' in third);
      assert.deepEqual(third.recorded, await repo.findById(created.id));
      assert.equal(third.recorded.contentType, 'audio/wav');
      assert.equal(third.recorded.contentVersion, stored.contentVersion + 1);
      assert.equal(third.bumped, true);
      // A size fixed elsewhere bounds what may be recorded, whatever the caller saw.
      const unsizedOutcome = await repo.createWithinLimit({ userId, filename: 'b', contentType: null, size: null, storageKey: 'k2', createdAt: 1, expiresAt: 10_000 }, limits);
      assert.ok('created' in unsizedOutcome);
      const unsized = unsizedOutcome.created;
      await repo.fixSize(unsized.id, 20, 5, limits.maxReservedBytes);
      const past = await repo.recordRange(unsized.id, { start: 0, end: 30, ...change, seen: unsized }, 100, 6, 10_000);
      assert.ok('recorded' in past);
      assert.equal(past.recorded.size, 20);
      assert.deepEqual(past.recorded.ranges, []);
    });
  });
}
