/**
 * Things that happened which the app's backend may want to hear about (webhooks, SPEC 9).
 * An event is recorded inside the transaction that makes it true (the outbox), so it
 * exists exactly when the row it is about does.
 */
import type { TransactionScope } from '../jobs/job-queue.js';

export const EVENT_TYPES = ['attachment.completed', 'audio_clip.created', 'audio_clip.processed', 'message.created', 'message.processed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface DomainEvent {
  type: EventType;
  /** The id of the attachment, clip or message the event is about. */
  subjectId: number;
  /** Epoch ms. */
  occurredAt: number;
}

export interface EventOutbox {
  /** Records the event as part of the caller's open transaction. */
  record(event: DomainEvent, scope: TransactionScope): Promise<void>;
}
