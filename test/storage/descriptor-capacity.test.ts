/** How many upload descriptors the local disk store keeps open, from the process's file limit. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { descriptorCapacity } from '../../src/storage/local-disk-store.js';

test('a quarter of the open-file limit, between 64 and 4,096', () => {
  assert.equal(descriptorCapacity(null), 64);
  assert.equal(descriptorCapacity(100), 64);
  assert.equal(descriptorCapacity(1024), 256);
  assert.equal(descriptorCapacity(20_000), 4096);
  assert.equal(descriptorCapacity(Number.MAX_SAFE_INTEGER), 4096);
});
