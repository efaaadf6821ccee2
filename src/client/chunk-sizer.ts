/**
 * Picks the size of the next chunk. Small chunks lose little when a connection drops; large
 * ones waste less time per request. Start small, grow while requests finish quickly, shrink
 * when they fail or crawl: on a good network the size soon reaches the maximum, on a bad one
 * it settles where requests still get through. The maximum (2 MiB) is modest because a chunk cut off
 * midway is lost whole: the server cannot check a partial chunk against its chunk_sha1, so it
 * keeps none of it, and up to `concurrency` chunks are in flight when a connection drops.
 */
export interface ChunkSizing {
  initial: number;
  min: number;
  max: number;
  /** A request that takes about this long (ms) has the right size. */
  targetMs: number;
}

export const DEFAULT_CHUNK_SIZING: ChunkSizing = { initial: 256 * 1024, min: 64 * 1024, max: 2 * 1024 * 1024, targetMs: 3000 };

export class ChunkSizer {
  private readonly sizing: ChunkSizing;

  private size: number;

  constructor(sizing: ChunkSizing = DEFAULT_CHUNK_SIZING) {
    this.sizing = sizing;
    if (!(sizing.min > 0 && sizing.min <= sizing.initial && sizing.initial <= sizing.max)) {
      throw new RangeError(`chunk sizes must satisfy 0 < min <= initial <= max, got ${sizing.min}, ${sizing.initial}, ${sizing.max}`);
    }
    this.size = sizing.initial;
  }

  get current(): number {
    return this.size;
  }

  /** A chunk of `bytes` was acknowledged after `ms`. */
  succeeded(bytes: number, ms: number): void {
    // Only full-size chunks say something about the size; a short tail chunk says little.
    if (bytes < this.size) return;
    if (ms < this.sizing.targetMs / 2) this.size = Math.min(this.sizing.max, this.size * 2);
    else if (ms > this.sizing.targetMs * 2) this.size = Math.max(this.sizing.min, Math.floor(this.size / 2));
  }

  failed(): void {
    this.size = Math.max(this.sizing.min, Math.floor(this.size / 2));
  }
}
