/**
 * The open-attachment limits in the repository, on every database (SPEC 3.6): partial uploads
 * consumed by a final do not count, from the final's own create on, and count again if the
 * final is deleted (the reference is cleared with it); declared-but-unsent bytes are summed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SqlAttachmentRepository } from '../../src/db/repositories/attachments-repository.js';
import { SqlUserRepository } from '../../src/db/repositories/users-repository.js';
import type { AttachmentCreateOutcome, AttachmentRecord } from '../../src/domain/ports.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';

for (const kind of databaseKinds()) {
  describe(`open attachments in the ${kind.name} repository`, { skip: kind.skip }, () => {
    let dataDir: string;
    let testDatabase: TestDatabase;
    let database: Database;
    let repo: SqlAttachmentRepository;
    let userId: number;

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-open-'));
      testDatabase = await kind.create(dataDir);
      database = await openDatabase({ url: testDatabase.url, durable: false });
      const user = await new SqlUserRepository(database).create({ username: 'olga', email: 'olga@example.com', passwordHash: 'x', createdAt: 1 });
      assert.ok(user);
      userId = user.id;
      repo = new SqlAttachmentRepository(database);
    });

    after(async () => {
      await database.close();
      await testDatabase.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    let key = 0;
    const create = (size: number, limits: { maxOpen: number; maxReservedBytes: number }, consumes?: number[]): Promise<AttachmentCreateOutcome> =>
      repo.createWithinLimit({ userId, filename: 'f', contentType: null, size, storageKey: `k${(key += 1)}`, createdAt: key, expiresAt: 1e12, consumes }, limits);
    const created = (outcome: AttachmentCreateOutcome): AttachmentRecord => {
      assert.ok('created' in outcome, JSON.stringify(outcome));
      return outcome.created;
    };
    const listed = async () => (await repo.listOpen(userId, { offset: 0, limit: 150 })).map((record) => record.id);

    test('a final at the limit consumes its partials; deleting it makes them count again', async () => {
      const limits = { maxOpen: 3, maxReservedBytes: 100 };
      const parts = [created(await create(10, limits)), created(await create(10, limits)), created(await create(10, limits))];
      assert.deepEqual(await create(1, limits), { tooManyOpen: true });
      // The final would be the fourth, but its three partials stop counting as it is made.
      const final = created(await create(30, limits, parts.map((part) => part.id)));
      assert.deepEqual(await listed(), [final.id]);
      assert.deepEqual((await repo.findConsumedBy(final.id)).map((record) => record.id), parts.map((part) => part.id));
      created(await create(1, limits));
      assert.ok(await repo.deleteUnused(final.id));
      assert.equal((await repo.findConsumedBy(final.id)).length, 0);
      assert.equal((await listed()).length, 4);
      assert.deepEqual(await create(1, limits), { tooManyOpen: true });
    });

    test('declared bytes not received are summed per user, against the bound', async () => {
      const other = await new SqlUserRepository(database).create({ username: 'piet', email: 'piet@example.com', passwordHash: 'x', createdAt: 1 });
      assert.ok(other);
      const limits = { maxOpen: 100, maxReservedBytes: 1000 };
      const outcome = await repo.createWithinLimit({ userId: other.id, filename: 'f', contentType: null, size: 600, storageKey: 'p1', createdAt: 1, expiresAt: 1e12 }, limits);
      assert.ok('created' in outcome);
      const again = await repo.createWithinLimit({ userId: other.id, filename: 'f', contentType: null, size: 401, storageKey: 'p2', createdAt: 1, expiresAt: 1e12 }, limits);
      assert.deepEqual(again, { overReservation: { reservedBytes: 600 } });
      const fits = await repo.createWithinLimit({ userId: other.id, filename: 'f', contentType: null, size: 400, storageKey: 'p3', createdAt: 1, expiresAt: 1e12 }, limits);
      assert.ok('created' in fits);
    });
  });
}
