/**
 * The local disk store's cache of upload descriptors: how many it keeps (from the process's
 * file limit), and that one nobody uses is closed after its idle time, so a file deleted by
 * another process does not keep its disk space.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { DescriptorCache, descriptorCapacity } from '../../src/storage/local-disk-store.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-descriptors-'));
after(() => rm(dir, { recursive: true, force: true }));

test('a quarter of the open-file limit, between 64 and 4,096', () => {
  assert.equal(descriptorCapacity(null), 64);
  assert.equal(descriptorCapacity(100), 64);
  assert.equal(descriptorCapacity(1024), 256);
  assert.equal(descriptorCapacity(20_000), 4096);
  assert.equal(descriptorCapacity(Number.MAX_SAFE_INTEGER), 4096);
});

/** Polls until `done` holds, for at most `ms`. */
async function within(ms: number, done: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < ms && !done(); waited += 10) await sleep(10);
  return done();
}

test('a descriptor is shared while leased, and closed once idle for its time', async () => {
  const file = path.join(dir, 'a');
  await writeFile(file, 'abc');
  const cache = new DescriptorCache(64, 60);
  try {
    const first = await cache.lease(file);
    const second = await cache.lease(file);
    assert.equal(second.file, first.file, 'one descriptor for both leases');
    await first.release();
    // Still leased by the second: never closed, however long it waits.
    await sleep(200);
    assert.notEqual(second.file.fd, -1);
    await second.release();
    assert.ok(await within(2_000, () => second.file.fd === -1), 'closed after its idle time');
    // Leased again: opened afresh.
    const third = await cache.lease(file);
    assert.notEqual(third.file.fd, -1);
    assert.notEqual(third.file, first.file);
    await third.release();
  } finally {
    await cache.closeAll();
  }
});
