/**
 * Deletes blobs that no record names: left behind when a node stopped between creating a
 * blob (a piece, an assembled file, a file part) and committing the row that owns it.
 * Young blobs are spared, since their row may be committing right now on any node.
 */
import type { BlobReferences, BlobStore, Clock } from '../ports.js';

const BATCH = 500;

export class OrphanSweeper {
  private readonly store: BlobStore;
  private readonly references: BlobReferences;
  private readonly clock: Clock;
  private readonly graceMs: number;

  constructor(
    store: BlobStore,
    references: BlobReferences,
    clock: Clock,
    graceMs: number,
  ) {
    this.store = store;
    this.references = references;
    this.clock = clock;
    this.graceMs = graceMs;
  }

  /** Resolves how many blobs were deleted. */
  async sweep(): Promise<number> {
    const cutoff = this.clock.now() - this.graceMs;
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      const named = await this.references.referenced(batch);
      for (const key of batch) {
        if (!named.has(key)) {
          await this.store.deleteBlob(key);
          removed += 1;
        }
      }
      batch = [];
    };
    for await (const blob of this.store.listBlobs()) {
      if (blob.modifiedAt > cutoff) continue;
      batch.push(blob.key);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    // Work the store itself left half-done (an assembly cut off by a crash) goes too.
    return removed + (await this.store.sweepAbandoned(cutoff));
  }
}
