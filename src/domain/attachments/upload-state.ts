/**
 * What this process knows about an attachment being uploaded, beyond its database
 * row: which regions are being written right now, a mirror of the recorded ranges
 * (refreshed from every commit), and the running SHA1 of the contiguous prefix.
 *
 * The SHA1 is extended by reading back newly contiguous bytes right after they are
 * committed (they are still in the page cache), so an in-order upload is complete
 * with its SHA1 without another pass, and an out-of-order one is hashed once, as its
 * gaps close. The hash lives only in memory: after a restart it starts again from 0.
 */
import { createHash, type Hash } from 'node:crypto';
import { contiguousPrefix, type ByteRange } from './ranges.js';
import { RegionHold, RegionLocks } from './region-locks.js';
import type { UploadHandle } from '../ports.js';

const HASH_STEP = 4 * 1024 * 1024;
const READ_BUFFER = 1024 * 1024;

export class UploadState {
  readonly locks = new RegionLocks();
  ranges: ByteRange[];
  activeRequests = 0;
  lastUsed = Date.now();

  private hash: Hash = createHash('sha1');
  private hashedUpTo = 0;
  /** Bumped whenever the hash is thrown away, so a read in flight knows it is stale. */
  private hashGeneration = 0;
  /** Serialises hashing work; each step waits for the one before. */
  private hashing: Promise<void> = Promise.resolve();
  /** Serialises commits of ranges so the mirror always matches the last commit. */
  private committing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly attachmentId: number,
    readonly size: number,
    ranges: ByteRange[],
  ) {
    this.ranges = ranges;
  }

  get hashedBytes(): number {
    return this.hashedUpTo;
  }

  /** Runs fn after every earlier commit of this attachment has finished. */
  serializeCommit<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.committing.then(fn, fn);
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Bytes below hashedUpTo changed: the running hash no longer describes the file. */
  invalidateHashFrom(position: number): void {
    if (position >= this.hashedUpTo) return;
    this.hash = createHash('sha1');
    this.hashedUpTo = 0;
    this.hashGeneration += 1;
  }

  /** Hashes newly contiguous bytes in the background; errors surface at finish(). */
  scheduleHashing(openHandle: () => Promise<UploadHandle>): void {
    this.hashing = this.hashing.then(() => this.catchUp(openHandle)).catch(() => undefined);
  }

  /** Waits for background hashing, then hashes whatever is still missing. */
  async hashToEnd(openHandle: () => Promise<UploadHandle>): Promise<void> {
    const run = this.hashing.then(() => this.catchUp(openHandle));
    this.hashing = run.catch(() => undefined);
    await run;
  }

  /** The file's SHA1 if every byte is hashed, else null. Leaves the running hash intact. */
  digestIfWhole(): string | null {
    return this.hashedUpTo === this.size ? this.hash.copy().digest('hex') : null;
  }

  private async catchUp(openHandle: () => Promise<UploadHandle>): Promise<void> {
    if (contiguousPrefix(this.ranges) <= this.hashedUpTo) return;
    const handle = await openHandle();
    const hold = new RegionHold();
    const buffer = Buffer.allocUnsafe(READ_BUFFER);
    try {
      for (let target = contiguousPrefix(this.ranges); this.hashedUpTo < target; target = contiguousPrefix(this.ranges)) {
        const from = this.hashedUpTo;
        const to = Math.min(target, from + HASH_STEP);
        const generation = this.hashGeneration;
        const hash = this.hash;
        // Hold the region so no writer changes it while it is read.
        await this.locks.acquire(hold, from, to);
        try {
          for (let position = from; position < to; ) {
            const length = Math.min(READ_BUFFER, to - position);
            const read = await handle.read(buffer, position, length);
            if (read !== length) throw new Error(`short read at ${position} of attachment ${this.attachmentId}`);
            hash.update(buffer.subarray(0, read));
            position += read;
          }
        } finally {
          this.locks.release(hold);
        }
        if (generation === this.hashGeneration) this.hashedUpTo = to;
      }
    } finally {
      await handle.close();
    }
  }
}

/**
 * The upload states of this process, by attachment id. States of idle uploads are
 * dropped beyond `capacity` (least recently used first); losing one only costs a
 * re-read of the prefix when that upload completes.
 */
export class UploadStates {
  private readonly states = new Map<number, UploadState>();

  constructor(private readonly capacity = 10_000) {}

  get(attachmentId: number): UploadState | undefined {
    return this.states.get(attachmentId);
  }

  obtain(attachmentId: number, size: number, ranges: ByteRange[]): UploadState {
    let state = this.states.get(attachmentId);
    if (!state) {
      state = new UploadState(attachmentId, size, ranges);
      this.states.set(attachmentId, state);
      this.evictIdle();
    } else {
      // Refresh the LRU order.
      this.states.delete(attachmentId);
      this.states.set(attachmentId, state);
    }
    state.lastUsed = Date.now();
    return state;
  }

  forget(attachmentId: number): void {
    this.states.delete(attachmentId);
  }

  isActive(attachmentId: number): boolean {
    const state = this.states.get(attachmentId);
    return state !== undefined && (state.activeRequests > 0 || !state.locks.idle);
  }

  private evictIdle(): void {
    if (this.states.size <= this.capacity) return;
    for (const [id, state] of this.states) {
      if (this.states.size <= this.capacity) break;
      if (state.activeRequests === 0 && state.locks.idle) this.states.delete(id);
    }
  }
}
