/**
 * Sets of byte ranges, each a half-open [start, end) pair.
 * A set is always sorted, non-overlapping and merged (no two ranges touch),
 * so equal sets have equal representations and can be stored as JSON.
 */
export type ByteRange = readonly [start: number, end: number];
export type RangeSet = readonly ByteRange[];

/** The set with [start, end) added. */
export function addRange(set: RangeSet, start: number, end: number): ByteRange[] {
  if (end <= start) return [...set];
  const out: ByteRange[] = [];
  let s = start;
  let e = end;
  let placed = false;
  for (const [rs, re] of set) {
    if (re < s) {
      out.push([rs, re]);
    } else if (rs > e) {
      if (!placed) {
        out.push([s, e]);
        placed = true;
      }
      out.push([rs, re]);
    } else {
      // Overlapping or touching: absorb into the range being placed.
      s = Math.min(s, rs);
      e = Math.max(e, re);
    }
  }
  if (!placed) out.push([s, e]);
  return out;
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
  for (const [rs, re] of set) {
    if (re <= start) continue;
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

/** Checks that a value read from storage is a well-formed set; throws if not. */
export function parseRangeSet(value: unknown): ByteRange[] {
  if (!Array.isArray(value)) throw new Error('range set must be an array');
  let previousEnd = -1;
  return value.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error('range must be a pair');
    const [s, e] = pair as unknown[];
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e)) throw new Error('range bounds must be integers');
    const start = s as number;
    const end = e as number;
    if (start <= previousEnd || end <= start || start < 0) throw new Error('range set must be sorted and merged');
    previousEnd = end;
    return [start, end] as ByteRange;
  });
}
