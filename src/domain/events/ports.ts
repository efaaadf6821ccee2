/** What events ask of the world: an outbox that records them in the caller's transaction (src/webhooks/). */
import type { TransactionScope } from '../jobs/ports.js';
import type { DomainEvent } from './events.js';

export interface EventOutbox {
  /** Records the event as part of the caller's open transaction. */
  record(event: DomainEvent, scope: TransactionScope): Promise<void>;
}
