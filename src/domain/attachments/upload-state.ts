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
import { contiguousPrefix, type ByteRange } from './ranges.js';
import { RegionHold, RegionLocks } from './region-locks.js';
import type { AttachmentRecord, PrefixHasher } from '../ports.js';

/** Bytes hashed per step; the region is locked against writers only for one step. */
const HASH_STEP = 4 * 1024 * 1024;

export class UploadState {
  readonly locks = new RegionLocks();
  private recorded: Pick<AttachmentRecord, 'ranges' | 'receivedBytes'>;
  activeRequests = 0;
  lastUsed = Date.now();

  private hashedUpTo = 0;
  /** Bumped whenever the hash is thrown away; each generation is a hash of its own. */
  private hashGeneration = 0;
  /** Serialises hashing work; each step waits for the one before. */
  private hashing: Promise<void> = Promise.resolve();
  /** Serialises commits of ranges so the mirror always matches the last commit. */
  private committing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly attachmentId: number,
    /** Null while unknown (SPEC 3.8); fixed at most once, under a hold past the new end. */
    public size: number | null,
    recorded: Pick<AttachmentRecord, 'ranges' | 'receivedBytes'>,
    private readonly storageKey: string,
    private readonly hasher: PrefixHasher,
  ) {
    this.recorded = recorded;
  }

  /** The recorded ranges as of the newest commit this process has seen. */
  get ranges(): ByteRange[] {
    return this.recorded.ranges;
  }

  /**
   * Takes in ranges read from the database. Recorded ranges only grow, and every reading is
   * of one committed row, so of two readings the one covering more bytes is the newer and
   * holds the other: keeping it costs nothing per range.
   */
  observe(recorded: Pick<AttachmentRecord, 'ranges' | 'receivedBytes'>): void {
    if (recorded.receivedBytes > this.recorded.receivedBytes) this.recorded = { ranges: recorded.ranges, receivedBytes: recorded.receivedBytes };
  }

  private get hashName(): string {
    return `${this.attachmentId}:${this.hashGeneration}`;
  }

  /** Runs fn after every earlier commit of this attachment has finished. */
  serializeCommit<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.committing.then(fn, fn);
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Bytes below what is hashed changed (or the hash was lost): start the hash again. */
  invalidateHashFrom(position: number): void {
    if (position >= this.hashedUpTo && position !== 0) return;
    this.hasher.discard(this.hashName);
    this.hashGeneration += 1;
    this.hashedUpTo = 0;
  }

  /** Hashes newly contiguous bytes in the background; errors surface at finish. */
  scheduleHashing(): void {
    this.hashing = this.hashing.then(() => this.catchUp()).catch(() => undefined);
  }

  /** Waits for background hashing, then hashes whatever is still missing. */
  async hashToEnd(): Promise<void> {
    const run = this.hashing.then(() => this.catchUp());
    this.hashing = run.catch(() => undefined);
    await run;
  }

  /** The file's SHA1 if every byte is hashed, else null. */
  async digestIfWhole(): Promise<string | null> {
    return this.size !== null && this.hashedUpTo === this.size ? this.hasher.digest(this.hashName) : null;
  }

  dispose(): void {
    this.hasher.discard(this.hashName);
  }

  private async catchUp(): Promise<void> {
    const hold = new RegionHold();
    for (let target = contiguousPrefix(this.ranges); this.hashedUpTo < target; target = contiguousPrefix(this.ranges)) {
      const from = this.hashedUpTo;
      const to = Math.min(target, from + HASH_STEP);
      const generation = this.hashGeneration;
      // Hold the region so no writer changes it while it is read.
      await this.locks.acquire(hold, from, to);
      try {
        await this.hasher.extend(this.hashName, this.storageKey, from, to);
      } catch (error) {
        if (generation === this.hashGeneration) this.invalidateHashFrom(0);
        throw error;
      } finally {
        this.locks.release(hold);
      }
      if (generation === this.hashGeneration) this.hashedUpTo = to;
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

  constructor(
    private readonly hasher: PrefixHasher,
    private readonly capacity = 10_000,
  ) {}

  get(attachmentId: number): UploadState | undefined {
    return this.states.get(attachmentId);
  }

  obtain(record: AttachmentRecord): UploadState {
    const attachmentId = record.id;
    let state = this.states.get(attachmentId);
    if (!state) {
      state = new UploadState(attachmentId, record.size, record, record.storageKey, this.hasher);
      this.states.set(attachmentId, state);
      this.evictIdle();
    } else {
      // Refresh the LRU order.
      this.states.delete(attachmentId);
      this.states.set(attachmentId, state);
      // What the database says (another instance, a restart) may be newer than the mirror.
      state.observe(record);
      if (record.size !== null) state.size = record.size;
    }
    state.lastUsed = Date.now();
    return state;
  }

  forget(attachmentId: number): void {
    this.states.get(attachmentId)?.dispose();
    this.states.delete(attachmentId);
  }

  /** True while a request is writing to the attachment (background hashing does not count). */
  isActive(attachmentId: number): boolean {
    return (this.states.get(attachmentId)?.activeRequests ?? 0) > 0;
  }

  private evictIdle(): void {
    if (this.states.size <= this.capacity) return;
    for (const [id, state] of this.states) {
      if (this.states.size <= this.capacity) break;
      if (state.activeRequests === 0 && state.locks.idle) this.forget(id);
    }
  }
}
