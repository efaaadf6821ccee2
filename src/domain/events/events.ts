/**
 * Things that happened which the app's backend may want to hear about (webhooks, SPEC 9).
 * An event is recorded inside the transaction that makes it true (the outbox), so it
 * exists exactly when the row it is about does.
 */
export const EVENT_TYPES = ['attachment.completed', 'audio_clip.created', 'audio_clip.processed', 'message.created', 'message.processed', 'user.deleted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface DomainEvent {
  type: EventType;
  /** The id of the attachment, clip, message or user the event is about. */
  subjectId: number;
  /** Epoch ms. */
  occurredAt: number;
  /**
   * What the event says, for a subject that no longer exists when it is sent (an erased user);
   * small, and only what a receiver needs to recognise the subject. Absent: rendered when sent.
   */
  data?: Record<string, unknown>;
}
