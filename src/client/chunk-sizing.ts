/** Bounds on chunk sizes; within them the size follows the link (link-estimate.ts). */
export interface ChunkSizing {
  /** The first chunk's size, before anything is measured. */
  initial: number;
  min: number;
  max: number;
  /** A chunk should take about this long (ms) at the measured rate. */
  targetMs: number;
}

/**
 * Half a second of the link per chunk: a stall shows within a couple of seconds, while headers
 * (a few hundred bytes) stay around 1% on a 3G uplink. 2 MiB at most bounds what a client holds.
 */
export const DEFAULT_CHUNK_SIZING: ChunkSizing = { initial: 64 * 1024, min: 16 * 1024, max: 2 * 1024 * 1024, targetMs: 500 };

export function chunkSizing(overrides: Partial<ChunkSizing> = {}): ChunkSizing {
  const sizing = { ...DEFAULT_CHUNK_SIZING, ...overrides };
  // Bounds given without a first size: the first size lies within them.
  if (overrides.initial === undefined) sizing.initial = Math.min(sizing.max, Math.max(sizing.min, sizing.initial));
  if (!(sizing.min > 0 && sizing.min <= sizing.initial && sizing.initial <= sizing.max && sizing.targetMs > 0)) {
    throw new RangeError(`chunk sizes must satisfy 0 < min <= initial <= max, got ${sizing.min}, ${sizing.initial}, ${sizing.max}`);
  }
  return sizing;
}
