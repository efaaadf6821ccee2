/**
 * Webhooks through the durable job queue: each event is one job, enqueued in the
 * transaction of the thing it is about; the job renders the event with the API's own views,
 * signs it (Standard Webhooks) and POSTs it, and throws on failure so the queue retries it.
 */
import { randomUUID } from 'node:crypto';
import type { DomainEvent, EventType } from '../domain/events/events.js';
import type { EventOutbox } from '../domain/events/ports.js';
import type { JobPolicy, JobQueue, TransactionScope } from '../domain/jobs/ports.js';
import type { Clock } from '../domain/clock.js';
import { postWebhook } from './delivery-client.js';
import { webhookHeaders } from './signature.js';

export const WEBHOOK_JOB = 'webhook-deliver';

/**
 * First retry after 1 s, doubling to an hour: 1 + 2 + … + 2048 s ≈ 68 min over 12 retries,
 * then hourly. pg-boss draws each delay between half and all of that (jitter), so 60
 * attempts span at least 2048 s + 47 × 1800 s ≈ 24.1 hours, and about 37 hours on average.
 */
export const WEBHOOK_POLICY: JobPolicy = {
  maxAttempts: 60,
  retryDelaySeconds: 1,
  exponential: true,
  maxRetryDelaySeconds: 3600,
  // Longer than one attempt can take (the delivery timeout), so a live run is never doubled.
  leaseSeconds: 60,
  concurrency: 4,
};

/** The job's payload: small, ids not data (the data is rendered when it is sent). */
export interface WebhookJob {
  [key: string]: unknown;
  /** webhook-id: the same on every attempt, so receivers can drop repeats. */
  id: string;
  type: EventType;
  subject_id: number;
  occurred_at: number;
  /** The event's data when it was fixed at recording (DomainEvent.data); else rendered when sent. */
  data?: Record<string, unknown>;
}

/** The body of one event: Standard Webhooks' recommended `type`, `timestamp`, `data`. */
export interface WebhookBody {
  type: EventType;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Renders an event's `data` as the API shows the object now. */
export type EventRenderer = (type: EventType, subjectId: number) => Promise<Record<string, unknown>>;

export interface WebhookSettings {
  url: string;
  key: Buffer;
  timeoutMs: number;
}

export class WebhookOutbox implements EventOutbox {
  private readonly queue: JobQueue;

  constructor(queue: JobQueue) {
    this.queue = queue;
  }

  async record(event: DomainEvent, scope: TransactionScope): Promise<void> {
    const job: WebhookJob = {
      id: `msg_${randomUUID().replaceAll('-', '')}`,
      type: event.type,
      subject_id: event.subjectId,
      occurred_at: event.occurredAt,
      ...(event.data ? { data: event.data } : {}),
    };
    await this.queue.enqueue(WEBHOOK_JOB, job, { within: scope });
  }
}

/** Registers the delivery of webhook jobs on this node's queue. */
export function registerWebhookDelivery(queue: JobQueue, settings: WebhookSettings, render: EventRenderer, clock: Clock): void {
  queue.register<WebhookJob>(WEBHOOK_JOB, WEBHOOK_POLICY, async (job, context) => {
    const body: WebhookBody = { type: job.type, timestamp: new Date(job.occurred_at).toISOString(), data: job.data ?? (await render(job.type, job.subject_id)) };
    const text = JSON.stringify(body);
    const headers = webhookHeaders(settings.key, job.id, Math.floor(clock.now() / 1000), text);
    const outcome = await postWebhook(settings.url, headers, text, { timeoutMs: settings.timeoutMs, signal: context.signal });
    if (!outcome.delivered) throw new Error(`webhook ${job.type} ${job.id} (attempt ${context.attempt}) not delivered: ${outcome.failure}`);
  });
}
