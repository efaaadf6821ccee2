/**
 * What recording one chunk's range means for an attachment's row, decided in one place: the
 * engine asks it before any byte is read, and the repository applies it as a compare-and-set
 * (on the row as last seen) or under the row lock (on the row as it is). Pure: rows in, a
 * verdict out.
 */
import { contiguousPrefix, countAfterAdding, mergeRange, type ByteRange } from './ranges.js';

/** The parts of an attachment's row a commit depends on. */
export interface CommitRow {
  ranges: ByteRange[];
  receivedBytes: number;
  contentVersion: number;
  state: 'uploading' | 'complete' | 'used';
  /** Null while unknown (SPEC 3.8). */
  size: number | null;
}

export interface CommitChunk {
  start: number;
  end: number;
  /** The chunk changes bytes already recorded. */
  changesRecorded: boolean;
  /** An append: recorded only where the bytes received contiguously from 0 end at `start`. */
  append?: boolean | undefined;
}

export type CommitPlan =
  /** Record: the new ranges, bytes received and content version. */
  | { kind: 'record'; ranges: ByteRange[]; receivedBytes: number; contentVersion: number }
  /** The size was fixed below the chunk's end meanwhile: nothing is recorded. */
  | { kind: 'beyond_size' }
  /** An append whose offset is no longer the upload's: nothing is recorded. */
  | { kind: 'offset_moved'; offset: number }
  /** No longer uploading, and the chunk would change it: refused. */
  | { kind: 'complete' }
  /** No longer uploading, and the chunk repeats what is there: fine, nothing to record. */
  | { kind: 'repeat' }
  /** The ranges would split beyond the limit: refused. */
  | { kind: 'too_many_ranges' };

export function planCommit(row: CommitRow, chunk: CommitChunk, maxRanges: number): CommitPlan {
  const { start, end } = chunk;
  if (row.size !== null && end > row.size) return { kind: 'beyond_size' };
  // An append lands only where the upload's offset is now (a complete upload's is its end).
  if (chunk.append && contiguousPrefix(row.ranges) !== start) return { kind: 'offset_moved', offset: contiguousPrefix(row.ranges) };
  if (row.state !== 'uploading') return chunk.changesRecorded ? { kind: 'complete' } : { kind: 'repeat' };
  if (exceedsRanges(row.ranges, start, end, maxRanges)) return { kind: 'too_many_ranges' };
  const { ranges, added } = mergeRange(row.ranges, start, end);
  return { kind: 'record', ranges, receivedBytes: row.receivedBytes + added, contentVersion: row.contentVersion + (chunk.changesRecorded ? 1 : 0) };
}

/** Whether adding [start, end) splits the ranges beyond the limit (a row already past it may keep its count). */
export function exceedsRanges(ranges: ByteRange[], start: number, end: number, maxRanges: number): boolean {
  return countAfterAdding(ranges, start, end) > Math.max(maxRanges, ranges.length);
}
