/**
 * One conformance suite for the AttachmentRepository port, run against every database adapter
 * (SQLite always, PostgreSQL when TEST_DATABASE_URL is set), as the blob store has its own.
 * Each rule the engine relies on is asked of the repository directly: limits and the create
 * are atomic (partial uploads consumed by a final not counted), ranges are never lost by concurrent commits, commits follow planCommit on the
 * compare-and-set path and under the lock alike, completion is conditional on the content
 * version, and deletes and expiry are conditional.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SqlAttachmentRepository } from '../../src/db/repositories/attachments-repository.js';
import { SqlUserRepository } from '../../src/db/repositories/users-repository.js';
import type { AttachmentRecord, RecordRangeOutcome } from '../../src/domain/attachments/ports.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';

const NO_LIMITS = { maxOpen: 1000, maxReservedBytes: Number.MAX_SAFE_INTEGER };
const NOW = 1_800_000_000_000;

function recorded(outcome: RecordRangeOutcome): AttachmentRecord {
  assert.ok('recorded' in outcome, `expected a recorded range, got ${JSON.stringify(outcome)}`);
  return outcome.recorded;
}

for (const kind of databaseKinds()) {
  describe(`attachment repository on ${kind.name}`, { skip: kind.skip }, () => {
    let dir: string;
    let testDatabase: TestDatabase;
    let database: Database;
    let repo: SqlAttachmentRepository;
    let userId: number;
    let counter = 0;

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-repo-'));
      testDatabase = await kind.create(dir);
      database = await openDatabase({ url: testDatabase.url, durable: false });
      repo = new SqlAttachmentRepository(database);
      const user = await new SqlUserRepository(database).create({ username: 'repo_owner', email: 'repo@example.com', passwordHash: 'x', createdAt: NOW });
      userId = user!.id;
    });
    after(async () => {
      await database.close();
      await testDatabase.drop();
      await rm(dir, { recursive: true, force: true });
    });

    async function create(size: number | null, owner = userId, limits = NO_LIMITS): Promise<AttachmentRecord> {
      counter += 1;
      const outcome = await repo.createWithinLimit(
        { userId: owner, filename: `f${counter}`, contentType: null, size, storageKey: `key-${counter}`, createdAt: NOW, expiresAt: NOW + 1000 },
        limits,
      );
      assert.ok('created' in outcome, JSON.stringify(outcome));
      return outcome.created;
    }

    test('the open-attachment and reservation limits hold, counted atomically with the create', async () => {
      const owner = (await new SqlUserRepository(database).create({ username: 'limited', email: 'l@example.com', passwordHash: 'x', createdAt: NOW }))!.id;
      const limits = { maxOpen: 3, maxReservedBytes: 1000 };
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          repo.createWithinLimit({ userId: owner, filename: `l${i}`, contentType: null, size: 100, storageKey: `lim-${i}`, createdAt: NOW, expiresAt: NOW + 1000 }, limits),
        ),
      );
      assert.equal(attempts.filter((a) => 'created' in a).length, 3);
      assert.ok(attempts.filter((a) => !('created' in a)).every((a) => 'tooManyOpen' in a));
      const big = await repo.createWithinLimit({ userId: owner, filename: 'big', contentType: null, size: 800, storageKey: 'lim-big', createdAt: NOW, expiresAt: NOW + 1000 }, {
        maxOpen: 10,
        maxReservedBytes: 1000,
      });
      assert.deepEqual(big, { overReservation: { reservedBytes: 300 } });
    });

    test('partial uploads consumed by a final do not count or list from its create on, and do again if it goes', async () => {
      const owner = (await new SqlUserRepository(database).create({ username: 'concat', email: 'c@example.com', passwordHash: 'x', createdAt: NOW }))!.id;
      const limits = { maxOpen: 3, maxReservedBytes: 1000 };
      const listed = async () => (await repo.listOpen(owner, { offset: 0, limit: 150 })).map((a) => a.id);
      const parts = [await create(10, owner, limits), await create(10, owner, limits), await create(10, owner, limits)];
      const attempt = (size: number, consumes?: number[]) =>
        repo.createWithinLimit({ userId: owner, filename: 'c', contentType: null, size, storageKey: `concat-${(counter += 1)}`, createdAt: NOW, expiresAt: NOW + 1000, consumes }, limits);
      assert.deepEqual(await attempt(1), { tooManyOpen: true });
      // The final would be the fourth, but its three partials stop counting as it is made.
      const made = await attempt(30, parts.map((p) => p.id));
      assert.ok('created' in made);
      const final = made.created;
      assert.deepEqual(await listed(), [final.id]);
      assert.deepEqual((await repo.findConsumedBy(final.id)).map((a) => a.id), parts.map((p) => p.id));
      // Only a partial still consumed by this final, and unused, is deleted as consumed.
      assert.equal(await repo.deleteIfConsumedBy(parts[0]!.id, final.id + 999), false);
      assert.equal(await repo.deleteIfConsumedBy(parts[0]!.id, final.id), true);
      assert.ok(await repo.deleteUnused(final.id));
      assert.deepEqual((await listed()).sort(), [parts[1]!.id, parts[2]!.id].sort());
      assert.equal((await repo.findConsumedBy(final.id)).length, 0);
    });

    test('the open list is the owner\'s unused attachments, newest first, paged', async () => {
      const owner = (await new SqlUserRepository(database).create({ username: 'lister', email: 'li@example.com', passwordHash: 'x', createdAt: NOW }))!.id;
      const ids = [];
      for (let i = 0; i < 4; i += 1) ids.push((await create(10, owner)).id);
      await create(10); // someone else's
      assert.deepEqual((await repo.listOpen(owner, { offset: 0, limit: 10 })).map((a) => a.id), [...ids].reverse());
      assert.deepEqual((await repo.listOpen(owner, { offset: 1, limit: 2 })).map((a) => a.id), [ids[2], ids[1]]);
      assert.deepEqual(await repo.listOpen(owner, { offset: 0, limit: 10, maxTime: NOW - 1 }), []);
    });

    test('concurrent commits of disjoint ranges lose none of them', async () => {
      const attachment = await create(64 * 10);
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => repo.recordRange(attachment.id, { start: i * 64, end: (i + 1) * 64, changesRecorded: false, seen: attachment }, 100, NOW, NOW + 1000)),
      );
      outcomes.forEach(recorded);
      const row = (await repo.findById(attachment.id))!;
      assert.deepEqual(row.ranges, [[0, 640]]);
      assert.equal(row.receivedBytes, 640);
      assert.equal(row.contentVersion, attachment.contentVersion);
    });

    test('the compare-and-set path and the locked path follow the same plan', async () => {
      const attachment = await create(100);
      // As last seen: one conditional write.
      const first = recorded(await repo.recordRange(attachment.id, { start: 0, end: 10, changesRecorded: false, seen: attachment }, 2, NOW, NOW + 1000));
      // A stale reading (the row moved on): the locked path decides on the row as it is.
      const stale = recorded(await repo.recordRange(attachment.id, { start: 5, end: 20, changesRecorded: true, seen: attachment }, 2, NOW, NOW + 1000));
      assert.deepEqual(first.ranges, [[0, 10]]);
      assert.deepEqual(stale.ranges, [[0, 20]]);
      assert.equal(stale.contentVersion, attachment.contentVersion + 1);
      assert.deepEqual(await repo.recordRange(attachment.id, { start: 40, end: 50, changesRecorded: false, seen: stale }, 1, NOW, NOW + 1000), { tooManyRanges: true });
      const moved = await repo.recordRange(attachment.id, { start: 10, end: 30, changesRecorded: false, append: true, seen: attachment }, 2, NOW, NOW + 1000);
      assert.ok('offsetMoved' in moved && moved.offsetMoved.ranges[0]![1] === 20);
      assert.deepEqual((await repo.findById(attachment.id))!.ranges, [[0, 20]]);
    });

    test('a size is fixed only above every recorded byte, and bounds later commits', async () => {
      const attachment = await create(null);
      recorded(await repo.recordRange(attachment.id, { start: 0, end: 50, changesRecorded: false }, 10, NOW, NOW + 1000));
      const low = await repo.fixSize(attachment.id, 40, NOW, Number.MAX_SAFE_INTEGER);
      assert.ok(low && 'id' in low && low.size === null);
      const fixed = await repo.fixSize(attachment.id, 60, NOW, Number.MAX_SAFE_INTEGER);
      assert.ok(fixed && 'id' in fixed && fixed.size === 60);
      // Past the size: nothing recorded, the row comes back unchanged.
      const beyond = recorded(await repo.recordRange(attachment.id, { start: 50, end: 70, changesRecorded: false }, 10, NOW, NOW + 1000));
      assert.deepEqual(beyond.ranges, [[0, 50]]);
    });

    test('completion is conditional on the content version and on every byte', async () => {
      const attachment = await create(20);
      const half = recorded(await repo.recordRange(attachment.id, { start: 0, end: 10, changesRecorded: false }, 10, NOW, NOW + 1000));
      assert.equal(await repo.markComplete(attachment.id, { sha1: 'a'.repeat(40), contentVersion: half.contentVersion, contentType: null }, NOW, NOW + 1000), null);
      const whole = recorded(await repo.recordRange(attachment.id, { start: 5, end: 20, changesRecorded: true }, 10, NOW, NOW + 1000));
      assert.equal(await repo.markComplete(attachment.id, { sha1: 'b'.repeat(40), contentVersion: half.contentVersion, contentType: null }, NOW, NOW + 1000), null);
      const done = await repo.markComplete(attachment.id, { sha1: 'c'.repeat(40), contentVersion: whole.contentVersion, contentType: 'audio/wav' }, NOW, NOW + 1000);
      assert.equal(done?.state, 'complete');
      assert.equal(done?.sha1, 'c'.repeat(40));
      // Done: a repeat records nothing, a change is refused.
      assert.equal(recorded(await repo.recordRange(attachment.id, { start: 0, end: 5, changesRecorded: false }, 10, NOW, NOW + 1000)).state, 'complete');
      assert.ok('complete' in (await repo.recordRange(attachment.id, { start: 0, end: 5, changesRecorded: true }, 10, NOW, NOW + 1000)));
    });

    test('pieces: recorded with their range, a newer overlapping piece counts as a change, read back in order, forgotten', async () => {
      const attachment = await create(30);
      const one = recorded(await repo.recordRange(attachment.id, { start: 0, end: 20, changesRecorded: false, piece: { storageKey: 'p1', compared: false, comparedThrough: 0 } }, 10, NOW, NOW + 1000));
      const layout = (await repo.findLayout(attachment.id))!;
      assert.deepEqual(layout.pieces.map((p) => [p.start, p.end, p.storageKey]), [[0, 20, 'p1']]);
      // Compared with the bytes up to p1, the same: no change.
      const same = recorded(
        await repo.recordRange(attachment.id, { start: 10, end: 30, changesRecorded: false, piece: { storageKey: 'p2', compared: true, comparedThrough: layout.pieces[0]!.id } }, 10, NOW, NOW + 1000),
      );
      assert.equal(same.contentVersion, one.contentVersion);
      // Compared before p2 existed, overlapping it: counted as a change.
      const outcome = await repo.recordRange(attachment.id, { start: 15, end: 25, changesRecorded: false, piece: { storageKey: 'p3', compared: true, comparedThrough: layout.pieces[0]!.id } }, 10, NOW, NOW + 1000);
      assert.ok('recorded' in outcome && outcome.bumped);
      assert.deepEqual(((await repo.findLayout(attachment.id))!.pieces).map((p) => p.storageKey), ['p1', 'p2', 'p3']);
      assert.deepEqual((await repo.deletePieces(attachment.id)).sort(), ['p1', 'p2', 'p3']);
      assert.deepEqual((await repo.findLayout(attachment.id))!.pieces, []);
    });

    test('deletes and expiry are conditional', async () => {
      const attachment = await create(10);
      assert.equal(await repo.deleteIfExpired(attachment.id, NOW), false);
      await repo.extendExpiry(attachment.id, NOW + 5000);
      assert.equal((await repo.findById(attachment.id))!.expiresAt, NOW + 5000);
      await repo.extendExpiry(attachment.id, NOW + 10); // never moves it back
      assert.equal((await repo.findById(attachment.id))!.expiresAt, NOW + 5000);
      const expired = await repo.findExpired(NOW + 6000, 1000);
      assert.ok(expired.some((a) => a.id === attachment.id));
      assert.equal(await repo.deleteIfExpired(attachment.id, NOW + 6000), true);
      assert.equal(await repo.findById(attachment.id), null);
      const other = await create(10);
      assert.equal(await repo.findOwned(other.id, userId + 999), null);
      assert.equal(await repo.deleteUnused(other.id), true);
      assert.equal(await repo.deleteUnused(other.id), false);
    });
  });
}
