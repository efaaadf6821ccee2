/**
 * Deletes blobs that no record names: left behind when a node stopped between creating a
 * blob (a piece, an assembled file, a file part) and committing the row that owns it, and
 * those a backup's hold on deletions left (forgotten-blobs.ts). Young blobs are spared, since
 * their row may be committing right now on any node; none is deleted while a backup holds
 * deletions.
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
import type { BlobReferences, DeletionHolds, KeptWindow, SweepLedger } from './ports.js';
import type { BlobStore } from '../storage/ports.js';
import type { Clock } from '../clock.js';

const BATCH = 500;

export interface SweepResult {
  deleted: number;
  /** Unnamed blobs kept because they fall in a kept window (written while the database was not watching). */
  kept: number;
  /** Unnamed blobs left for a later sweep because a backup holds deletions. */
  held: number;
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
  private readonly holds: DeletionHolds;
  private readonly clock: Clock;
  private readonly graceMs: number;

  constructor(store: BlobStore, references: BlobReferences, ledger: SweepLedger, holds: DeletionHolds, clock: Clock, graceMs: number) {
    this.store = store;
    this.references = references;
    this.ledger = ledger;
    this.holds = holds;
    this.clock = clock;
    this.graceMs = graceMs;
  }

  /**
   * Moves the epoch on, in the database, then in the store. Every sweep starts with it; a
   * backup runs it right after its snapshot of the database, so that the store is ahead of a
   * restored snapshot from then on. Null when another node moved the epoch at the same moment.
   */
  async fence(): Promise<EpochPlan | null> {
    // The store's record first: whatever it shows was committed in this database before, so a
    // database that has been running all along reads an epoch at least as high.
    const storeEpoch = await this.store.latestEpoch();
    const database = await this.ledger.epoch();
    const plan = planEpoch(database, storeEpoch, this.clock.now(), this.graceMs);
    return this.apply(database.epoch, plan);
  }

  /**
   * After a restore made on purpose: keeps what the restored database may have forgotten (every
   * unnamed blob written since its epoch began, less the grace), whatever the store's record
   * says, and moves the epoch past it.
   */
  async keepSinceEpoch(reason: string): Promise<KeptWindow> {
    const storeEpoch = await this.store.latestEpoch();
    const database = await this.ledger.epoch();
    const keep = { from: database.advancedAt - this.graceMs, to: this.clock.now(), reason };
    const plan = { next: Math.max(database.epoch, storeEpoch ?? 0) + 1, keep };
    if (!(await this.apply(database.epoch, plan))) throw new Error('the database epoch moved meanwhile: is a server running? Stop every server before a restore.');
    return keep;
  }

  private async apply(seen: number, plan: EpochPlan): Promise<EpochPlan | null> {
    if (!(await this.ledger.advance(seen, plan.next, this.clock.now(), plan.keep))) return null;
    await this.store.recordEpoch(plan.next);
    return plan;
  }

  async sweep(): Promise<SweepResult> {
    const plan = await this.fence();
    // Another node moved the epoch meanwhile: it sweeps this round.
    if (!plan) return { deleted: 0, kept: 0, held: 0, restoreFound: null };
    const result: SweepResult = { deleted: 0, kept: 0, held: 0, restoreFound: plan.keep };
    const cutoff = this.clock.now() - this.graceMs;
    for await (const batch of this.unnamed(cutoff)) {
      // A backup's hold is read after the batch was found unnamed, as ForgottenBlobs reads it
      // after a record is forgotten: a hold it does not see was taken after that, so the
      // backup's snapshot does not name these blobs either.
      const held = batch.some((blob) => !blob.kept) && (await this.holds.active(this.clock.now()));
      for (const blob of batch) {
        if (blob.kept) result.kept += 1;
        else if (held) result.held += 1;
        else {
          await this.store.deleteBlob(blob.key);
          result.deleted += 1;
        }
      }
    }
    // Work the store itself left half-done (an assembly cut off by a crash) goes too: it holds
    // no byte a record could name (its pieces stay until the assembly commits).
    result.deleted += await this.store.sweepAbandoned(cutoff);
    return result;
  }

  /** The blobs the sweep keeps now (unnamed, old enough, in a kept window), for an operator to look at. */
  async keptBlobs(): Promise<Array<{ key: string; modifiedAt: number }>> {
    const kept: Array<{ key: string; modifiedAt: number }> = [];
    for await (const batch of this.unnamed(this.clock.now() - this.graceMs)) {
      for (const blob of batch) if (blob.kept) kept.push({ key: blob.key, modifiedAt: blob.modifiedAt });
    }
    return kept;
  }

  /** Blobs written before `cutoff` that no record names, each saying whether a kept window holds it, a batch at a time. */
  private async *unnamed(cutoff: number): AsyncIterable<Array<{ key: string; modifiedAt: number; kept: boolean }>> {
    const windows = await this.ledger.keptWindows();
    const kept = (modifiedAt: number) => windows.some((w) => modifiedAt >= w.from && modifiedAt <= w.to);
    let batch: Array<{ key: string; modifiedAt: number }> = [];
    const named = async () => {
      const names = await this.references.referenced(batch.map((blob) => blob.key));
      const found = batch.filter((blob) => !names.has(blob.key)).map((blob) => ({ ...blob, kept: kept(blob.modifiedAt) }));
      batch = [];
      return found;
    };
    for await (const blob of this.store.listBlobs()) {
      if (blob.modifiedAt > cutoff) continue;
      batch.push(blob);
      if (batch.length >= BATCH) yield await named();
    }
    if (batch.length > 0) yield await named();
  }
}
