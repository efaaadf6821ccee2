/**
 * Sets of byte ranges, each a half-open [start, end) pair.
 * A set is always sorted, non-overlapping and merged (no two ranges touch),
 * so equal sets have equal representations and can be stored as JSON.
 */
export type ByteRange = readonly [start: number, end: number];
export type RangeSet = readonly ByteRange[];

/** Index of the first range that ends at or after `position` (set.length if none): a binary search. */
function firstEndingFrom(set: RangeSet, position: number): number {
  let low = 0;
  let high = set.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (set[middle]![1] < position) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Index of the first range that starts after `position` (set.length if none). */
function firstStartingAfter(set: RangeSet, position: number, from: number): number {
  let low = from;
  let high = set.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (set[middle]![0] <= position) low = middle + 1;
    else high = middle;
  }
  return low;
}

export interface Merge {
  ranges: ByteRange[];
  /** Bytes the set covers now that it did not before. */
  added: number;
}

/**
 * The set with [start, end) added, and how many bytes that adds. Finding the ranges it
 * touches is a binary search, and only those are merged; the ranges before and after them
 * are copied as they are (two slices), with no per-range logic.
 */
export function mergeRange(set: RangeSet, start: number, end: number): Merge {
  if (end <= start) return { ranges: set.slice(), added: 0 };
  const first = firstEndingFrom(set, start); // touching counts: [0,2) and [2,4) merge
  const after = firstStartingAfter(set, end, first);
  let mergedStart = start;
  let mergedEnd = end;
  let absorbed = 0;
  for (let i = first; i < after; i += 1) {
    const [rs, re] = set[i]!;
    mergedStart = Math.min(mergedStart, rs);
    mergedEnd = Math.max(mergedEnd, re);
    absorbed += re - rs;
  }
  const merged: ByteRange = [mergedStart, mergedEnd];
  const ranges = set.slice(0, first).concat([merged], set.slice(after));
  return { ranges, added: mergedEnd - mergedStart - absorbed };
}

/** The set with [start, end) added. */
export function addRange(set: RangeSet, start: number, end: number): ByteRange[] {
  return mergeRange(set, start, end).ranges;
}

/** How many ranges the set would have with [start, end) added, without building it. */
export function countAfterAdding(set: RangeSet, start: number, end: number): number {
  if (end <= start) return set.length;
  const first = firstEndingFrom(set, start);
  return set.length - (firstStartingAfter(set, end, first) - first) + 1;
}

/** The set with [start, end) removed. */
export function removeRange(set: RangeSet, start: number, end: number): ByteRange[] {
  if (end <= start) return [...set];
  const out: ByteRange[] = [];
  for (const [rs, re] of set) {
    if (re <= start || rs >= end) {
      out.push([rs, re]);
      continue;
    }
    if (rs < start) out.push([rs, start]);
    if (re > end) out.push([end, re]);
  }
  return out;
}

/** The parts of [start, end) that the set covers, in order. */
export function intersect(set: RangeSet, start: number, end: number): ByteRange[] {
  const out: ByteRange[] = [];
  if (end <= start) return out;
  for (let i = firstEndingFrom(set, start + 1); i < set.length; i += 1) {
    const [rs, re] = set[i]!;
    if (rs >= end) break;
    out.push([Math.max(rs, start), Math.min(re, end)]);
  }
  return out;
}

/** The ranges of [0, size) that the set does not cover. */
export function missingRanges(set: RangeSet, size: number): ByteRange[] {
  const out: ByteRange[] = [];
  let cursor = 0;
  for (const [rs, re] of set) {
    if (rs >= size) break;
    if (rs > cursor) out.push([cursor, rs]);
    cursor = Math.max(cursor, re);
  }
  if (cursor < size) out.push([cursor, size]);
  return out;
}

/** How many bytes the set covers. */
export function coveredBytes(set: RangeSet): number {
  let total = 0;
  for (const [rs, re] of set) total += re - rs;
  return total;
}

/** The end of the range that starts at 0, i.e. how far a sequential reader can go. */
export function contiguousPrefix(set: RangeSet): number {
  const first = set[0];
  return first !== undefined && first[0] === 0 ? first[1] : 0;
}

/** The end of the highest byte in the set (0 for none). */
export function highestByte(set: RangeSet): number {
  return set.at(-1)?.[1] ?? 0;
}

/** Checks that a value read from storage is a well-formed set; throws if not. */
export function parseRangeSet(value: unknown): ByteRange[] {
  if (!Array.isArray(value)) throw new Error('range set must be an array');
  // Checked in place, without copying: sets can be large and are read on every chunk.
  let previousEnd = -1;
  for (const pair of value as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error('range must be a pair');
    const start: unknown = pair[0];
    const end: unknown = pair[1];
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new Error('range bounds must be integers');
    if ((start as number) <= previousEnd || (end as number) <= (start as number) || (start as number) < 0) throw new Error('range set must be sorted and merged');
    previousEnd = end as number;
  }
  return value as ByteRange[];
}
