/** Webhooks as the configuration asks: delivery declared on the job queue, and the outbox events go through. */
import type { Config } from '../config.js';
import type { JobQueue } from '../domain/jobs/ports.js';
import type { Clock } from '../domain/clock.js';
import { webhookRenderer, type EventSubjects } from '../http/webhook-payloads.js';
import { parseWebhookSecret } from './signature.js';
import { registerWebhookDelivery, WebhookOutbox } from './webhook-dispatcher.js';

/** Checks the secret: a bad one fails the start before anything is opened. */
export function webhookKey(config: Pick<Config, 'webhookUrl' | 'webhookSecret'>): Buffer | null {
  return config.webhookUrl ? parseWebhookSecret(config.webhookSecret ?? '') : null;
}

/** Registers delivery on `jobs` and resolves the outbox that records events; null without WEBHOOK_URL. */
export function webhookOutbox(
  config: Pick<Config, 'webhookUrl' | 'webhookSecret' | 'webhookTimeoutSeconds'>,
  jobs: JobQueue,
  subjects: EventSubjects,
  clock: Clock,
): WebhookOutbox | null {
  const key = webhookKey(config);
  if (!config.webhookUrl || !key) return null;
  registerWebhookDelivery(jobs, { url: config.webhookUrl, key, timeoutMs: config.webhookTimeoutSeconds * 1000 }, webhookRenderer(subjects), clock);
  return new WebhookOutbox(jobs);
}
