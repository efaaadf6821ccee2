/**
 * What this process keeps about an attachment being uploaded, beyond its database row:
 * which regions are being written right now (in-place stores), a mirror of the recorded
 * ranges (refreshed from every commit), and the running SHA1 of the contiguous prefix.
 *
 * All of it is a cache that may be lost at any moment. The running SHA1 is labelled with the
 * content version of the bytes it read, never another; the database completes an attachment
 * only with the SHA1 of its current version, so a hash that missed a change (another node
 * replaced bytes) only costs a retry, never a wrong SHA1. A hash still holds for a newer
 * version when every change between the two, as this process committed it, lies above the
 * hashed prefix. An in-order upload is complete with its SHA1 moments after its last byte, and
 * an out-of-order one is hashed once, as its gaps close.
 */
import type { AttachmentRecord, ByteSource, PrefixHasher } from './ports.js';
import { contiguousPrefix, type ByteRange } from './ranges.js';
import { RegionHold, RegionLocks } from './region-locks.js';
import { heldBy, type UploadSnapshot } from './upload-bytes.js';

/** Bytes hashed per step; the region is locked against writers only for one step. */
const HASH_STEP = 4 * 1024 * 1024;

/**
 * Background hashing starts once this many contiguous bytes wait for it: an upload in small
 * chunks is hashed in few large steps rather than one round trip to the hasher per chunk.
 * Whatever is left (less than this) is hashed when the upload completes.
 */
const HASH_BATCH = HASH_STEP;

/** Bytes this process still has at hand (a chunk's scratch file), and the piece they became. */
export interface LocalBytes {
  start: number;
  end: number;
  pieceKey: string;
  read: ByteSource['read'];
  /** Lets go of them (deletes the scratch file); called once they are hashed or no longer needed. */
  release(): Promise<void>;
}

/** Changes this process committed and remembers, at most; past that a newer version rehashes. */
const REMEMBERED_CHANGES = 1024;

/** Reads an upload as it stands (UploadBytes.snapshot), bound to one attachment. */
export type SnapshotReader = (record: AttachmentRecord) => Promise<UploadSnapshot | null>;

export class UploadState {
  private readonly hasher: PrefixHasher;
  private readonly read: SnapshotReader;

  readonly locks = new RegionLocks();
  private recorded: AttachmentRecord;
  activeRequests = 0;

  private hashedUpTo = 0;
  /** The contiguous prefix background hashing was last asked to reach. */
  private scheduledUpTo = 0;
  /** The content version of the bytes the running hash read. */
  private hashVersion: number;
  /** For versions this process made: where the bytes that version changed begin. */
  private readonly changedFrom = new Map<number, number>();
  /** Bumped whenever the hash is thrown away; each generation is a hash of its own. */
  private hashGeneration = 0;
  /** Serialises hashing work; each step waits for the one before. */
  private hashing: Promise<void> = Promise.resolve();
  /** Chunks' local copies handed to hashInBackground and not hashed yet. */
  private localHashesPending = 0;
  /** Serialises commits of ranges so the mirror always matches the last commit. */
  private committing: Promise<unknown> = Promise.resolve();

  constructor(
    record: AttachmentRecord,
    hasher: PrefixHasher,
    read: SnapshotReader,
  ) {
    this.hasher = hasher;
    this.read = read;
    this.recorded = record;
    this.hashVersion = record.contentVersion;
  }

  get attachmentId(): number {
    return this.recorded.id;
  }

  /** The row as of the newest commit this process has seen. */
  get latest(): AttachmentRecord {
    return this.recorded;
  }

  /** The recorded ranges as of the newest commit this process has seen. */
  get ranges(): ByteRange[] {
    return this.recorded.ranges;
  }

  /** Null while unknown (SPEC 3.8). */
  get size(): number | null {
    return this.recorded.size;
  }

  /**
   * Takes in a row read from the database. Recorded ranges only grow and content versions only
   * go up, so of two readings the one with more bytes or a higher version is the newer.
   */
  observe(record: AttachmentRecord): void {
    const current = this.recorded;
    if (record.contentVersion > current.contentVersion || record.receivedBytes > current.receivedBytes || (record.size !== null && current.size === null)) {
      this.recorded = record;
    }
  }

  /** After this process's own commit made `version`: bytes from `changedFrom` on may differ from the version before. */
  noteChange(version: number, changedFrom: number): void {
    if (version <= this.hashVersion) return;
    if (this.changedFrom.size >= REMEMBERED_CHANGES) this.changedFrom.clear();
    this.changedFrom.set(version, changedFrom);
  }

  /**
   * Relabels the hash with a newer version when it holds for it: every version in between was
   * made by this process, each changing only bytes above the hashed prefix. False otherwise
   * (another node's change, or one below the prefix): the hash does not describe that version.
   */
  private adopt(version: number): boolean {
    if (version === this.hashVersion) return true;
    if (version < this.hashVersion) return false;
    for (let v = this.hashVersion + 1; v <= version; v += 1) {
      const from = this.changedFrom.get(v);
      if (from === undefined || from < this.hashedUpTo) return false;
    }
    for (const v of this.changedFrom.keys()) if (v <= version) this.changedFrom.delete(v);
    this.hashVersion = version;
    return true;
  }

  private get hashName(): string {
    return `${this.recorded.id}:${this.hashGeneration}`;
  }

  /** Runs fn after every earlier commit of this attachment in this process has finished. */
  serializeCommit<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.committing.then(fn, fn);
    this.committing = run.catch(() => undefined);
    return run;
  }

  private restartHash(version: number): void {
    this.hasher.discard(this.hashName);
    this.hashGeneration += 1;
    this.hashedUpTo = 0;
    this.scheduledUpTo = 0;
    this.hashVersion = version;
    for (const v of this.changedFrom.keys()) if (v <= version) this.changedFrom.delete(v);
  }

  /** Hashes newly contiguous bytes in the background, a batch at a time; errors surface at finish. */
  scheduleHashing(): void {
    const prefix = contiguousPrefix(this.ranges);
    if (prefix - Math.max(this.scheduledUpTo, this.hashedUpTo) < HASH_BATCH) return;
    this.scheduledUpTo = prefix;
    this.hashing = this.hashing.then(() => this.catchUp(null)).catch(() => undefined);
  }

  /**
   * Hashes in the background, after what is queued, whatever is contiguous then, reading
   * `local` (a chunk's scratch file) instead of the store where it holds the bytes; `local` is
   * released afterwards. Resolves at once, so the request that stored the bytes answers without
   * waiting for their hash, unless more than `maxWaiting` copies wait already: then once this
   * one is hashed (a client faster than the hashing cannot pile copies up on disk).
   */
  async hashInBackground(local: LocalBytes, maxWaiting: number): Promise<void> {
    this.localHashesPending += 1;
    const run = this.hashing
      .then(() => this.catchUp(local))
      .catch(() => undefined)
      .finally(() => {
        this.localHashesPending -= 1;
        return local.release().catch(() => undefined);
      });
    this.hashing = run;
    if (this.localHashesPending > maxWaiting) await run;
  }

  /** Waits for background hashing, then hashes whatever is contiguous now. */
  async hashToEnd(): Promise<void> {
    const run = this.hashing.then(() => this.catchUp(null));
    this.hashing = run.catch(() => undefined);
    await run;
  }

  /** The file's SHA1 and the content version it belongs to, if every byte is hashed; else null. */
  async digestIfWhole(): Promise<{ sha1: string; contentVersion: number } | null> {
    const size = this.recorded.size;
    if (size === null || this.hashedUpTo !== size || !this.adopt(this.recorded.contentVersion)) return null;
    return { sha1: await this.hasher.digest(this.hashName), contentVersion: this.hashVersion };
  }

  dispose(): void {
    this.hasher.discard(this.hashName);
  }

  private async catchUp(local: LocalBytes | null): Promise<void> {
    if (!this.adopt(this.recorded.contentVersion)) this.restartHash(this.recorded.contentVersion);
    if (this.hashedUpTo >= contiguousPrefix(this.ranges)) return;
    const snapshot = await this.read(this.recorded);
    if (!snapshot) return;
    this.observe(snapshot.record);
    // An older reading than the hash (another process's view raced ours): wait for a newer one.
    if (snapshot.record.contentVersion < this.hashVersion) return;
    const hold = new RegionHold();
    const target = contiguousPrefix(snapshot.record.ranges);
    while (this.hashedUpTo < target) {
      const from = this.hashedUpTo;
      const to = Math.min(target, from + HASH_STEP);
      const generation = this.hashGeneration;
      // In place: hold the region so no writer changes it while it is read.
      await this.locks.acquire(hold, from, to);
      try {
        // The version of the bytes this step reads: a live blob shows the newest commit (whose
        // writer held this region until it was recorded); pieces show the snapshot's.
        const version = snapshot.live ? this.recorded.contentVersion : snapshot.record.contentVersion;
        if (this.adopt(version)) {
          const source: ByteSource =
            local && from >= local.start && to <= local.end && heldBy(snapshot, local.pieceKey, from, to)
              ? { localPath: null, read: local.read }
              : snapshot.source;
          await this.hasher.extend(this.hashName, source, from, to);
        } else {
          this.restartHash(version); // bytes below `from` changed: from the start, on this reading
        }
      } catch (error) {
        if (generation === this.hashGeneration) this.restartHash(this.hashVersion);
        throw error;
      } finally {
        this.locks.release(hold);
      }
      if (generation !== this.hashGeneration) {
        if (this.hashedUpTo === 0) continue;
        return;
      }
      this.hashedUpTo = to;
    }
  }
}

/**
 * The upload states of this process, by attachment id. States of idle uploads are
 * dropped beyond `capacity` (least recently used first); losing one only costs a
 * re-read of the prefix when that upload completes.
 */
export class UploadStates {
  private readonly hasher: PrefixHasher;
  private readonly read: SnapshotReader;
  private readonly capacity: number;

  private readonly states = new Map<number, UploadState>();

  constructor(
    hasher: PrefixHasher,
    read: SnapshotReader,
    capacity = 10_000,
  ) {
    this.hasher = hasher;
    this.read = read;
    this.capacity = capacity;
  }

  obtain(record: AttachmentRecord): UploadState {
    const attachmentId = record.id;
    let state = this.states.get(attachmentId);
    if (!state) {
      state = new UploadState(record, this.hasher, this.read);
      this.states.set(attachmentId, state);
      this.evictIdle();
    } else {
      // Refresh the LRU order.
      this.states.delete(attachmentId);
      this.states.set(attachmentId, state);
      // What the database says (another node, a restart) may be newer than the mirror.
      state.observe(record);
    }
    return state;
  }

  forget(attachmentId: number): void {
    this.states.get(attachmentId)?.dispose();
    this.states.delete(attachmentId);
  }

  /** True while a request of this process is writing to the attachment (background hashing does not count). */
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
