/** Both PrefixHashers against one set of checks, on real files. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ByteSource, PrefixHasher } from '../../src/domain/attachments/ports.js';
import { LocalDiskStore } from '../../src/storage/local-disk-store.js';
import { InProcessPrefixHasher, WorkerPrefixHasher } from '../../src/storage/prefix-hashers.js';

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

const kinds: Array<[string, () => PrefixHasher]> = [
  ['in-process', () => new InProcessPrefixHasher()],
  ['worker thread', () => new WorkerPrefixHasher()],
];

/** A blob as a hasher reads it: its path, and ranged streams through the store. */
function sourceOf(store: LocalDiskStore, key: string): ByteSource {
  return { localPath: store.localPath(key), read: (start, end) => store.openRead(key, { start, end }) as AsyncIterable<Buffer> };
}

for (const [name, make] of kinds) {
  describe(`${name} prefix hasher`, () => {
    let root: string;
    let store: LocalDiskStore;
    let hasher: PrefixHasher;
    let key: ByteSource;
    const data = randomBytes(5 * 1024 * 1024 + 17);

    before(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'trickle-hash-'));
      store = await LocalDiskStore.open({ root, durable: false });
      const blob = await store.createUpload(data.length);
      await writeFile(store.localPath(blob), data);
      key = sourceOf(store, blob);
      hasher = make();
    });
    after(async () => {
      await hasher.close();
      await store.close();
      await rm(root, { recursive: true, force: true });
    });

    test('steps of any size add up to the SHA1 of the whole; digests do not end the hash', async () => {
      const cuts = [0, 1, 4096, 1024 * 1024 + 3, 3 * 1024 * 1024, data.length];
      for (let i = 0; i + 1 < cuts.length; i += 1) {
        await hasher.extend('a', key, cuts[i]!, cuts[i + 1]!);
        assert.equal(await hasher.digest('a'), sha1(data.subarray(0, cuts[i + 1])));
      }
    });

    test('a step that does not start where the hash stands is refused, and names are independent', async () => {
      await assert.rejects(hasher.extend('b', key, 10, 20));
      await hasher.extend('b', key, 0, 10);
      await assert.rejects(hasher.extend('b', key, 11, 20));
      await hasher.extend('c', key, 0, 5);
      assert.equal(await hasher.digest('b'), sha1(data.subarray(0, 10)));
      assert.equal(await hasher.digest('c'), sha1(data.subarray(0, 5)));
      hasher.discard('b');
      await assert.rejects(hasher.extend('b', key, 10, 20));
    });

    test('reading past the end of the blob fails instead of hashing nothing', async () => {
      await assert.rejects(hasher.extend('d', key, 0, data.length + 10));
    });
  });
}

test('the worker hasher recovers after its worker dies', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'trickle-hash-'));
  const store = await LocalDiskStore.open({ root, durable: false });
  const blob = await store.createUpload(3);
  await writeFile(store.localPath(blob), 'abc');
  const key = sourceOf(store, blob);
  const hasher = new WorkerPrefixHasher();
  try {
    await hasher.extend('x', key, 0, 3);
    await hasher.close(); // the worker and its hashes are gone
    await assert.rejects(hasher.extend('x', key, 3, 3)); // a new worker does not know 'x'
    await hasher.extend('y', key, 0, 3);
    assert.equal(await hasher.digest('y'), sha1(Buffer.from('abc')));
  } finally {
    await hasher.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
});
