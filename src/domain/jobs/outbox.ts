/**
 * Work that must exist exactly when a new clip or message does: each writer adds its
 * jobs (media processing, webhooks) inside the transaction that creates the record, so
 * a crash between the two cannot lose them.
 *
 *   new Outbox([async (scope, created) => queue.enqueue('webhook-deliver', { ... }, { within: scope })]);
 */
import type { TransactionScope } from './ports.js';

export interface CreatedRecord {
  type: 'audio_clip' | 'message';
  id: number;
}

export type OutboxWriter = (scope: TransactionScope, created: CreatedRecord) => Promise<void>;

export class Outbox {
  private readonly writers: readonly OutboxWriter[];

  constructor(writers: readonly OutboxWriter[]) {
    this.writers = writers;
  }

  /** Called by repositories inside the creating transaction; a throw rolls the record back. */
  async write(scope: TransactionScope, created: CreatedRecord): Promise<void> {
    for (const writer of this.writers) await writer(scope, created);
  }
}
