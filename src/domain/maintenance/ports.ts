/**
 * What the orphan sweep asks of the world besides the blob store: which keys records still
 * name, and its own ledger in the database (src/db/repositories/).
 */

export interface BlobReferences {
  /** Which of these storage keys a record (attachment or media file) still names. */
  referenced(keys: string[]): Promise<Set<string>>;
}

/** A span of blob modification times whose unnamed blobs the orphan sweep keeps. */
export interface KeptWindow {
  from: number;
  to: number;
  reason: string;
}

/** The orphan sweep's record in the database (src/domain/maintenance/orphan-sweeper.ts). */
export interface SweepLedger {
  /** The database's epoch and when it reached it. */
  epoch(): Promise<{ epoch: number; advancedAt: number }>;
  /**
   * Moves the epoch from `seen` to `next` at `now`, recording `keep` with it; a compare-and-set:
   * false when another node moved it first (then nothing is written).
   */
  advance(seen: number, next: number, now: number, keep: KeptWindow | null): Promise<boolean>;
  keptWindows(): Promise<KeptWindow[]>;
  /** An operator's decision: the kept blobs may go (the sweep deletes them once unnamed and old); resolves how many windows. */
  releaseKept(): Promise<number>;
}

/**
 * Backups' holds on blob deletions, in the database so that every node sees them
 * (src/domain/maintenance/forgotten-blobs.ts says why they make a backup's snapshot safe). A
 * hold lasts until the time its holder last set, so one whose backup died lapses by itself.
 */
export interface DeletionHolds {
  /** Takes or renews `holder`'s hold until `until` (epoch ms). */
  hold(holder: string, until: number): Promise<void>;
  /** Ends `holder`'s hold; other holders' stay. */
  release(holder: string): Promise<void>;
  /** Whether any hold lasts past `now`: one read, made after the caller's own writes committed. */
  active(now: number): Promise<boolean>;
}
