/** The client's arithmetic on half-open byte ranges; lists are sorted and merged, as the server gives them. */
import type { ByteRange } from './types.js';

/** The parts of [start, end) that `have` does not cover. */
export function lacking(start: number, end: number, have: readonly ByteRange[]): ByteRange[] {
  const gaps: ByteRange[] = [];
  let at = start;
  for (const [from, to] of have) {
    if (to <= at) continue;
    if (from >= end) break;
    if (from > at) gaps.push([at, from]);
    at = Math.max(at, to);
    if (at >= end) break;
  }
  if (at < end) gaps.push([at, end]);
  return gaps;
}

/** Whether `have` covers [start, end) whole. */
export function covers(have: readonly ByteRange[], start: number, end: number): boolean {
  return lacking(start, end, have).length === 0;
}
