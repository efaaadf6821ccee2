import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  addRange,
  contiguousPrefix,
  countAfterAdding,
  coveredBytes,
  intersect,
  mergeRange,
  missingRanges,
  parseRangeSet,
  removeRange,
  type ByteRange,
} from '../../src/domain/attachments/ranges.js';

/** The model: one boolean per byte. */
function toBits(set: readonly ByteRange[], size: number): boolean[] {
  const bits = new Array<boolean>(size).fill(false);
  for (const [s, e] of set) for (let i = s; i < e; i += 1) bits[i] = true;
  return bits;
}

function fromBits(bits: boolean[]): ByteRange[] {
  const out: ByteRange[] = [];
  let start = -1;
  bits.forEach((bit, i) => {
    if (bit && start < 0) start = i;
    if (!bit && start >= 0) {
      out.push([start, i]);
      start = -1;
    }
  });
  if (start >= 0) out.push([start, bits.length]);
  return out;
}

const SIZE = 64;
const range = fc.tuple(fc.nat(SIZE), fc.nat(SIZE)).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
const ops = fc.array(fc.tuple(fc.boolean(), range), { maxLength: 30 });

describe('range sets', () => {
  test('add and remove agree with a per-byte model, and stay sorted and merged', () => {
    fc.assert(
      fc.property(ops, (operations) => {
        let set: ByteRange[] = [];
        let bits = new Array<boolean>(SIZE).fill(false);
        for (const [add, [s, e]] of operations) {
          set = add ? addRange(set, s, e) : removeRange(set, s, e);
          for (let i = s; i < e; i += 1) bits[i] = add;
          assert.deepEqual(set, fromBits(bits));
          assert.deepEqual(parseRangeSet(JSON.parse(JSON.stringify(set))), set);
        }
        bits = toBits(set, SIZE);
        assert.equal(coveredBytes(set), bits.filter(Boolean).length);
        assert.deepEqual(missingRanges(set, SIZE), fromBits(bits.map((b) => !b)));
        const prefix = bits.indexOf(false);
        assert.equal(contiguousPrefix(set), prefix < 0 ? SIZE : prefix);
      }),
      { numRuns: 500 },
    );
  });

  test('mergeRange reports the bytes it adds; countAfterAdding the ranges there would be', () => {
    fc.assert(
      fc.property(ops, range, (operations, [s, e]) => {
        let set: ByteRange[] = [];
        for (const [add, [a, b]] of operations) set = add ? addRange(set, a, b) : removeRange(set, a, b);
        const { ranges, added } = mergeRange(set, s, e);
        assert.equal(added, coveredBytes(ranges) - coveredBytes(set));
        assert.equal(countAfterAdding(set, s, e), ranges.length);
      }),
      { numRuns: 2000 },
    );
  });

  test('intersect returns exactly the covered part of a window', () => {
    fc.assert(
      fc.property(ops, range, (operations, [ws, we]) => {
        let set: ByteRange[] = [];
        for (const [add, [s, e]] of operations) set = add ? addRange(set, s, e) : removeRange(set, s, e);
        const bits = toBits(set, SIZE).map((b, i) => b && i >= ws && i < we);
        assert.deepEqual(intersect(set, ws, we), fromBits(bits));
      }),
      { numRuns: 2000 },
    );
  });

  test('touching ranges merge; empty ranges change nothing', () => {
    assert.deepEqual(addRange([[0, 10]], 10, 20), [[0, 20]]);
    assert.deepEqual(addRange([[0, 10], [20, 30]], 10, 20), [[0, 30]]);
    assert.deepEqual(addRange([[5, 10]], 7, 7), [[5, 10]]);
    assert.deepEqual(removeRange([[0, 30]], 10, 20), [[0, 10], [20, 30]]);
    assert.deepEqual(missingRanges([], 5), [[0, 5]]);
    assert.equal(contiguousPrefix([[1, 5]]), 0);
    assert.deepEqual(intersect([[0, 48]], 47, 47), []);
  });

  test('parseRangeSet rejects malformed stored values', () => {
    for (const bad of [null, {}, [[1]], [[2, 1]], [[0, 5], [5, 6]], [[0, 5], [3, 9]], [['0', 5]], [[-1, 3]], [[0, 1.5]]]) {
      assert.throws(() => parseRangeSet(bad), `accepted ${JSON.stringify(bad)}`);
    }
  });
});
