/**
 * The durable job queue port: work that happens after a request, in the background,
 * on whichever node picks it up.
 *
 * How to use it (see also docs/jobs.md):
 *
 *   // once, before start(): a handler and the retry policy of one job type
 *   queue.register('webhook-deliver', WEBHOOK_RETRIES, async (payload, job) => { ... });
 *
 *   // the outbox: enqueued inside the transaction that writes the row the job is about,
 *   // so the job exists exactly when the row does (a repository hands you the scope)
 *   await queue.enqueue('webhook-deliver', { event: 'audio_clip.created', id }, { within: scope });
 *
 *   // or on its own, committed at once
 *   await queue.enqueue('media-process', { mediaFileId: 7 });
 *
 * Guarantees, on every adapter: a committed job runs until a handler call resolves, or
 * until `maxAttempts` calls have thrown; a job runs on one node at a time; a job whose
 * node died mid-run (kill -9) runs again once its lease lapses (`leaseSeconds`), also after
 * a restart. Handlers therefore must be idempotent (delivery is at least once).
 * Payloads are small JSON objects: ids, not data.
 */

/** A transaction the caller holds open; opaque here, each adapter knows its own kind. */
export interface TransactionScope {
  readonly transactionScope: true;
}

export interface JobPolicy {
  /** Handler calls in all, the first included; after the last one throws, the job fails. */
  maxAttempts: number;
  /** Seconds before the first retry. */
  retryDelaySeconds: number;
  /** Doubles the delay after each further failure, up to maxRetryDelaySeconds. */
  exponential: boolean;
  maxRetryDelaySeconds: number;
  /**
   * How long one run may hold the job without a sign of life. A node renews the lease
   * while its handler runs; when the node dies, the job is retried once the lease lapses.
   * At least 10 (the PostgreSQL adapter's floor).
   */
  leaseSeconds: number;
  /** Jobs of this type one node runs at the same time. */
  concurrency: number;
}

export interface JobContext {
  /** The adapter's id of this job (text: pg-boss uses UUIDs). */
  id: string;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  /** True when no retry follows if this run throws. */
  lastAttempt: boolean;
  /** Aborted when the queue stops; handlers should give up and let the job run again later. */
  signal: AbortSignal;
}

export type JobPayload = Record<string, unknown>;
export type JobHandler<P extends JobPayload = JobPayload> = (payload: P, job: JobContext) => Promise<void>;

export interface EnqueueOptions {
  /** Commit the job with this transaction (the outbox); without it, it commits at once. */
  within?: TransactionScope;
  /** Run no earlier than this many seconds from now. */
  delaySeconds?: number;
}

export type JobCountState = 'queued' | 'running' | 'failed';

export interface JobQueue {
  /** Declares a job type; call before start(). Type names: letters, digits, `-` and `_`. */
  register<P extends JobPayload>(type: string, policy: JobPolicy, handler: JobHandler<P>): void;
  enqueue(type: string, payload: JobPayload, options?: EnqueueOptions): Promise<void>;
  /** Starts working registered types (idempotent). */
  start(): Promise<void>;
  /** Stops taking jobs and waits a bounded time for running handlers. */
  stop(): Promise<void>;
  /** Jobs by state for one type, for metrics and tests. */
  counts(type: string): Promise<Record<JobCountState, number>>;
}

/** Seconds before retry number `retry` (1 = the first retry) under a policy, without jitter. */
export function retryDelay(policy: JobPolicy, retry: number): number {
  if (!policy.exponential) return policy.retryDelaySeconds;
  return Math.min(policy.maxRetryDelaySeconds, policy.retryDelaySeconds * 2 ** Math.min(30, retry - 1));
}

export const JOB_TYPE_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
