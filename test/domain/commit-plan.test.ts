/** planCommit: what recording a chunk means for a row, for every verdict. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planCommit, type CommitRow } from '../../src/domain/attachments/commit-plan.js';

const row = (over: Partial<CommitRow> = {}): CommitRow => ({ ranges: [[0, 10]], receivedBytes: 10, contentVersion: 3, state: 'uploading', size: 100, ...over });

test('a chunk that adds bytes is recorded: ranges merged, bytes counted, version kept', () => {
  assert.deepEqual(planCommit(row(), { start: 10, end: 20, changesRecorded: false }, 4), { kind: 'record', ranges: [[0, 20]], receivedBytes: 20, contentVersion: 3 });
});

test('a chunk that changes recorded bytes raises the content version by one', () => {
  assert.deepEqual(planCommit(row(), { start: 5, end: 15, changesRecorded: true }, 4), { kind: 'record', ranges: [[0, 15]], receivedBytes: 15, contentVersion: 4 });
});

test('past a size fixed meanwhile: nothing is recorded', () => {
  assert.deepEqual(planCommit(row({ size: 15 }), { start: 10, end: 20, changesRecorded: false }, 4), { kind: 'beyond_size' });
});

test('an append lands only at the contiguous end; elsewhere it names the real offset', () => {
  assert.equal(planCommit(row(), { start: 10, end: 20, changesRecorded: false, append: true }, 4).kind, 'record');
  assert.deepEqual(planCommit(row(), { start: 0, end: 20, changesRecorded: true, append: true }, 4), { kind: 'offset_moved', offset: 10 });
  // A complete upload's offset is its end: an append below it moved, whatever its bytes.
  assert.deepEqual(planCommit(row({ ranges: [[0, 100]], receivedBytes: 100, state: 'complete' }), { start: 50, end: 60, changesRecorded: false, append: true }, 4), {
    kind: 'offset_moved',
    offset: 100,
  });
});

test('a finished row takes repeats and refuses changes', () => {
  const done = row({ ranges: [[0, 100]], receivedBytes: 100, state: 'complete' });
  assert.deepEqual(planCommit(done, { start: 0, end: 10, changesRecorded: false }, 4), { kind: 'repeat' });
  assert.deepEqual(planCommit(done, { start: 0, end: 10, changesRecorded: true }, 4), { kind: 'complete' });
});

test('a chunk that would split the ranges past the limit is refused; a row already past it keeps its count', () => {
  assert.deepEqual(planCommit(row(), { start: 50, end: 60, changesRecorded: false }, 1), { kind: 'too_many_ranges' });
  const split = row({ ranges: [[0, 10], [20, 30], [40, 50]], receivedBytes: 30 });
  assert.equal(planCommit(split, { start: 60, end: 70, changesRecorded: false }, 2).kind, 'too_many_ranges');
  assert.equal(planCommit(split, { start: 10, end: 15, changesRecorded: false }, 2).kind, 'record');
});
