/**
 * Work that must exist exactly when a new clip or message does: each writer adds its
 * jobs (media processing, webhooks) inside the transaction that creates the record, so
 * a crash between the two cannot lose them.
 *
 *   outbox.add(async (scope, created) => queue.enqueue('webhook-deliver', { ... }, { within: scope }));
 */
import type { TransactionScope } from './ports.js';

export interface CreatedRecord {
  type: 'audio_clip' | 'message';
  id: number;
}

export type OutboxWriter = (scope: TransactionScope, created: CreatedRecord) => Promise<void>;

export class Outbox {
  private readonly writers: OutboxWriter[] = [];

  add(writer: OutboxWriter): void {
    this.writers.push(writer);
  }

  /** Called by repositories inside the creating transaction; a throw rolls the record back. */
  async write(scope: TransactionScope, created: CreatedRecord): Promise<void> {
    for (const writer of this.writers) await writer(scope, created);
  }
}
