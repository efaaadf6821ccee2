/**
 * One conformance suite for the BlobStore port, run against every adapter: the local disk
 * always, S3-compatible storage when TEST_S3_ENDPOINT names a test server. Bytes are read
 * back through the port, never through paths.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import type { BlobStore, PieceSlice } from '../../src/domain/storage/ports.js';
import { openBlobStore } from '../../src/storage/open-store.js';
import { s3Settings } from '../helpers/databases.js';

const MiB = 1024 * 1024;
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

async function readAll(store: BlobStore, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of store.openRead(key, range) as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

async function keysOf(store: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const blob of store.listBlobs()) keys.push(blob.key);
  return keys.sort();
}

/** A blob made through the port, from bytes. */
async function putBytes(store: BlobStore, data: Buffer): Promise<string> {
  const scratch = await store.createScratch();
  await scratch.write(data, 0);
  return store.adoptScratch(scratch);
}

const s3 = s3Settings();
const kinds: Array<{ name: string; skip: string | undefined; env: () => Record<string, string> }> = [
  { name: 'local disk', skip: undefined, env: () => ({}) },
  { name: 'S3', skip: s3 ? undefined : 'TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh start)', env: () => s3?.() ?? {} },
];

for (const kind of kinds) {
  describe(`blob store: ${kind.name}`, { skip: kind.skip }, () => {
    let dataDir: string;
    let store: BlobStore;

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-store-'));
      store = await openBlobStore(loadConfig(['--data-dir', dataDir], kind.env()));
    });
    after(async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('says once how it keeps uploads (in place or as pieces), and what else it can tell', async () => {
      assert.ok(store.kind === 'inPlace' || store.kind === 'pieces');
      if (!store.localPaths) assert.equal(store.localPath(randomUUIDLike()), null);
      const free = await store.freeBytes();
      assert.ok(free === null || free > 0, 'free bytes, or null when the store cannot tell');
    });

    test('a scratch file becomes a blob; reads whole and by range; listed; deleted', async () => {
      const data = randomBytes(300_000);
      const key = await putBytes(store, data);
      assert.ok((await readAll(store, key)).equals(data));
      assert.ok((await readAll(store, key, { start: 1000, end: 2000 })).equals(data.subarray(1000, 2000)));
      assert.equal((await readAll(store, key, { start: 5, end: 5 })).length, 0);
      assert.ok((await keysOf(store)).includes(key));
      await store.deleteBlob(key);
      assert.ok(!(await keysOf(store)).includes(key));
      await store.deleteBlob(key); // a missing blob is not an error
    });

    test('deleteBlobs deletes many at once, the missing ones too, and nothing else', async () => {
      const keys = await Promise.all(Array.from({ length: 5 }, () => putBytes(store, randomBytes(100))));
      await store.deleteBlobs([keys[0]!, keys[1]!, keys[2]!, randomUUIDLike()]);
      const left = await keysOf(store);
      assert.deepEqual(keys.map((key) => left.includes(key)), [false, false, false, true, true]);
      await store.deleteBlobs([keys[0]!, keys[3]!, keys[4]!]);
      assert.deepEqual((await keysOf(store)).filter((key) => keys.includes(key)), []);
      await store.deleteBlobs([]);
    });

    test('reading a missing blob fails instead of giving nothing', async () => {
      await assert.rejects(readAll(store, randomUUIDLike()));
    });

    test('withLocalFile gives a file with the bytes, and leaves nothing behind', async () => {
      const data = randomBytes(70_000);
      const key = await putBytes(store, data);
      let seen = '';
      const digest = await store.withLocalFile(key, async (file) => {
        seen = file;
        return sha1(await readFile(file));
      });
      assert.equal(digest, sha1(data));
      if (!store.localPaths) await assert.rejects(readFile(seen), 'the temporary copy is gone');
      await store.deleteBlob(key);
    });

    test('pieces: any slices of any pieces assemble into one blob, in order, large and small', async (t) => {
      if (store.kind !== 'pieces') return t.skip('this store writes uploads in place');
      const big = randomBytes(11 * MiB);
      const small = randomBytes(300_000);
      const keys: string[] = [];
      for (const data of [big, small]) {
        const scratch = await store.createScratch();
        await scratch.write(data, 0);
        keys.push(await store.putPiece(scratch, data.length));
        await scratch.discard();
      }
      const [bigKey, smallKey] = keys as [string, string];
      // A small slice, a large one copied inside the store, small ones, then a large tail.
      const plan: Array<[string, Buffer, number, number]> = [
        [smallKey, small, 10, 1010],
        [bigKey, big, 0, 6 * MiB],
        [smallKey, small, 0, 200_000],
        [smallKey, small, 200_000, 300_000],
        [bigKey, big, 6 * MiB, 11 * MiB],
      ];
      let at = 0;
      const slices: PieceSlice[] = plan.map(([key, , from, to]) => {
        const slice = { key, pieceOffset: from, start: at, end: at + (to - from) };
        at = slice.end;
        return slice;
      });
      const expected = Buffer.concat(plan.map(([, data, from, to]) => data.subarray(from, to)));
      const assembled = await store.assemble(slices);
      const stored = await readAll(store, assembled);
      assert.equal(stored.length, expected.length);
      assert.equal(sha1(stored), sha1(expected));
      // Small files too: one slice, and slices all below the smallest part.
      const one = await store.assemble([{ key: smallKey, pieceOffset: 5, start: 0, end: 100 }]);
      assert.ok((await readAll(store, one)).equals(small.subarray(5, 105)));
      for (const key of [...keys, assembled, one]) await store.deleteBlob(key);
    });

    test('sweepAbandoned gives up nothing young', async () => {
      assert.equal(await store.sweepAbandoned(Date.now() - 3600_000), 0);
    });
  });
}

function randomUUIDLike(): string {
  return crypto.randomUUID();
}
