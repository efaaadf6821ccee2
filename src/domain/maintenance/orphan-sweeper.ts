/**
 * Deletes blobs that no record names: left behind when a node stopped between creating a
 * blob (a piece, an assembled file, a file part) and committing the row that owns it.
 * Young blobs are spared, since their row may be committing right now on any node.
 *
 * A database restored from a backup next to newer stored bytes must not make it delete those
 * bytes: they are unnamed only because the database forgot them. Each sweep moves an epoch
 * forward, first in the database, then in a record kept in the store itself, so the store's
 * record never runs ahead of a database that has been running all along. A store whose record
 * is ahead of the database therefore means the database lost time (a restore, or commits lost
 * to a crash without durable writes): the sweep then keeps, rather than deletes, every unnamed
 * blob written since the database's epoch began (less the grace, for rows that committed after
 * their blob), until an operator releases them. docs/operations.md has the whole argument.
 */
import type { BlobReferences, BlobStore, Clock, KeptWindow, SweepLedger } from '../ports.js';

const BATCH = 500;

export interface SweepResult {
  deleted: number;
  /** Unnamed blobs kept because they fall in a kept window (written while the database was not watching). */
  kept: number;
  /** Set when this sweep found the database behind the store (restored), with the window it keeps. */
  restoreFound: KeptWindow | null;
}

export interface EpochPlan {
  next: number;
  keep: KeptWindow | null;
}

/**
 * The next epoch, and what to keep: nothing while the store's record is not ahead of the
 * database; when it is, every blob written from the database's epoch start (less the grace)
 * until now.
 */
export function planEpoch(database: { epoch: number; advancedAt: number }, storeEpoch: number | null, now: number, graceMs: number): EpochPlan {
  if (storeEpoch === null || storeEpoch <= database.epoch) return { next: database.epoch + 1, keep: null };
  return {
    next: storeEpoch + 1,
    keep: {
      from: database.advancedAt - graceMs,
      to: now,
      reason: `the database (epoch ${database.epoch}) is behind the storage (epoch ${storeEpoch}): restored from a backup?`,
    },
  };
}

export class OrphanSweeper {
  private readonly store: BlobStore;
  private readonly references: BlobReferences;
  private readonly ledger: SweepLedger;
  private readonly clock: Clock;
  private readonly graceMs: number;

  constructor(store: BlobStore, references: BlobReferences, ledger: SweepLedger, clock: Clock, graceMs: number) {
    this.store = store;
    this.references = references;
    this.ledger = ledger;
    this.clock = clock;
    this.graceMs = graceMs;
  }

  async sweep(): Promise<SweepResult> {
    // The store's record first: whatever it shows was committed in this database before, so a
    // database that has been running all along reads an epoch at least as high.
    const storeEpoch = await this.store.latestEpoch();
    const database = await this.ledger.epoch();
    const now = this.clock.now();
    const plan = planEpoch(database, storeEpoch, now, this.graceMs);
    // Another node moved the epoch meanwhile: it sweeps this round.
    if (!(await this.ledger.advance(database.epoch, plan.next, now, plan.keep))) return { deleted: 0, kept: 0, restoreFound: null };
    await this.store.recordEpoch(plan.next);

    const windows = await this.ledger.keptWindows();
    const kept = (modifiedAt: number) => windows.some((w) => modifiedAt >= w.from && modifiedAt <= w.to);
    const cutoff = now - this.graceMs;
    const result: SweepResult = { deleted: 0, kept: 0, restoreFound: plan.keep };
    let batch: Array<{ key: string; modifiedAt: number }> = [];
    const flush = async () => {
      const named = await this.references.referenced(batch.map((blob) => blob.key));
      for (const blob of batch) {
        if (named.has(blob.key)) continue;
        if (kept(blob.modifiedAt)) {
          result.kept += 1;
          continue;
        }
        await this.store.deleteBlob(blob.key);
        result.deleted += 1;
      }
      batch = [];
    };
    for await (const blob of this.store.listBlobs()) {
      if (blob.modifiedAt > cutoff) continue;
      batch.push(blob);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    // Work the store itself left half-done (an assembly cut off by a crash) goes too: it holds
    // no byte a record could name (its pieces stay until the assembly commits).
    result.deleted += await this.store.sweepAbandoned(cutoff);
    return result;
  }
}
