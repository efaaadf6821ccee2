/**
 * Deletes the stored files of records the database has just forgotten (an upload's pieces once
 * it completes, a deleted attachment's bytes), unless a backup holds deletions: then they stay,
 * named by nothing, and the orphan sweep deletes them once no hold is current.
 *
 * Why a backup's snapshot never names a file deleted here before the backup copied it: callers
 * come here only once the database has committed the forgetting (F), and the hold is read after
 * that (R); the backup commits its hold (H) before it takes its snapshot (S), and keeps it until
 * its last copy pass is done. If R sees the hold, nothing is deleted. If it does not, R read
 * before H committed, so F < R < H < S: the snapshot was taken after the forgetting and does
 * not name the file. The orphan sweep reads the hold the same way, after it asked which files
 * are named (orphan-sweeper.ts). A hold that lapsed (a backup that died, or stalled past its
 * renewal) only lets deletions go on: the backup then finds a named file missing and takes
 * another snapshot, as it did before holds.
 */
import type { Clock } from '../clock.js';
import type { BlobStore } from '../storage/ports.js';
import type { DeletionHolds } from './ports.js';

export class ForgottenBlobs {
  private readonly store: BlobStore;
  private readonly holds: DeletionHolds;
  private readonly clock: Clock;

  constructor(store: BlobStore, holds: DeletionHolds, clock: Clock) {
    this.store = store;
    this.holds = holds;
    this.clock = clock;
  }

  /**
   * Deletes `keys`, which no committed record names any more, or leaves them to the orphan sweep
   * while a backup holds deletions (resolves false then). Every key is tried; the first failure
   * is thrown after.
   */
  async delete(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    if (await this.holds.active(this.clock.now())) return false;
    const failures: unknown[] = [];
    for (const key of keys) await this.store.deleteBlob(key).catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
    return true;
  }
}
