/**
 * Erasing an account (SPEC 10): the user and everything theirs, rows and stored bytes. The
 * request marks the user `erasing` (it signs in no more), revokes its tokens and enqueues the
 * erasure job in one transaction; the job then deletes in steps that each commit alone, and
 * lists every blob a step unlinks until the store has deleted it. A crash anywhere leaves a
 * state the next run (on any node, after a restart) carries on from, and running twice at once
 * does no harm: every step is conditional. The user row goes last, with the `user.deleted`
 * event in the same transaction, so the event is announced once, when nothing is left.
 */
import type { EventOutbox } from '../events/ports.js';
import type { JobPolicy, JobQueue, TransactionScope } from '../jobs/ports.js';
import type { BlobStore } from '../storage/ports.js';
import type { Clock } from '../clock.js';
import type { ErasedRecords, ErasedUser, ErasureRepository } from './ports.js';

export const ERASE_JOB = 'account-erase';

export interface ErasePayload {
  [key: string]: unknown;
  user_id: number;
}

/** Retried for a long while (the store may be away for hours): 5 s doubling to 15 min, about 6 hours in all. */
export const ERASE_POLICY: JobPolicy = {
  maxAttempts: 30,
  retryDelaySeconds: 5,
  exponential: true,
  maxRetryDelaySeconds: 900,
  // Renewed while a run goes on; a run whose node died is taken up again this soon after.
  leaseSeconds: 20,
  concurrency: 1,
};

/** Records per step: one transaction each, short enough not to hold locks long. */
const BATCH = 200;
/** Pending deletions read at once; deleted as requests of DELETE_CHUNK keys, DELETE_CONCURRENCY at a time. */
const PENDING_PAGE = 1000;
const DELETE_CHUNK = 250;
const DELETE_CONCURRENCY = 4;
/** Rounds of "something arrived meanwhile" before the run gives up and lets the job retry. */
const MAX_FINISH_ROUNDS = 10;

export interface ErasureReport extends ErasedRecords {
  /** Stored objects deleted (originals, renditions, upload pieces). */
  blobs: number;
  /** The user row went in this run (false: another run finished it). */
  finished: boolean;
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** Runs fn over items, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export class AccountErasure {
  private readonly repository: ErasureRepository;
  private readonly store: BlobStore;
  private readonly jobs: JobQueue;
  private readonly clock: Clock;
  /** Where `user.deleted` is announced (webhooks), when configured. */
  private readonly events: EventOutbox | null;

  constructor(repository: ErasureRepository, store: BlobStore, jobs: JobQueue, clock: Clock, events: EventOutbox | null) {
    this.repository = repository;
    this.store = store;
    this.jobs = jobs;
    this.clock = clock;
    this.events = events;
  }

  /**
   * Starts erasing: from the commit on, the user signs in no more and the erasure job exists.
   * False when the user is being erased already (or is gone): nothing more is enqueued.
   */
  begin(userId: number): Promise<boolean> {
    return this.repository.begin(userId, (scope) => this.jobs.enqueue(ERASE_JOB, { user_id: userId } satisfies ErasePayload, { within: scope }));
  }

  /** Erases what is left of a user being erased; null when the user was not being erased (or is gone already). */
  async run(userId: number, signal?: AbortSignal): Promise<ErasureReport | null> {
    if ((await this.repository.state(userId)) !== 'erasing') return null;
    const report: ErasureReport = { clips: 0, messages: 0, attachments: 0, files: 0, blobs: 0, finished: false };
    // Deletions a crash interrupted come first.
    report.blobs += await this.deletePending(userId, signal);
    for (let round = 0; round < MAX_FINISH_ROUNDS; ) {
      signal?.throwIfAborted();
      const step = await this.repository.eraseBatch(userId, BATCH, this.clock.now());
      report.clips += step.clips;
      report.messages += step.messages;
      report.attachments += step.attachments;
      report.files += step.files;
      report.blobs += await this.deletePending(userId, signal);
      if (step.clips + step.messages + step.attachments + step.files > 0) continue;
      const outcome = await this.repository.finish(userId, (scope, user) => this.announce(scope, user));
      if (outcome !== 'remaining') return { ...report, finished: outcome === 'finished' };
      round += 1; // a request that authenticated before the erasure began made something meanwhile
    }
    throw new Error(`user ${userId}: records kept appearing during the erasure; it will be retried`);
  }

  private async deletePending(userId: number, signal: AbortSignal | undefined): Promise<number> {
    let deleted = 0;
    for (;;) {
      signal?.throwIfAborted();
      const keys = await this.repository.pendingBlobs(userId, PENDING_PAGE);
      if (keys.length === 0) return deleted;
      // A page a few requests at a time (an object store deletes up to 1,000 keys per request).
      await eachLimited(chunks(keys, DELETE_CHUNK), DELETE_CONCURRENCY, (chunk) => this.store.deleteBlobs(chunk));
      // Only once the store has deleted them: a crash before this deletes them again, harmlessly.
      await this.repository.forgetBlobs(keys);
      deleted += keys.length;
    }
  }

  private async announce(scope: TransactionScope, user: ErasedUser): Promise<void> {
    if (!this.events) return;
    const data = { user: { id: user.id, deleted: true, ...(user.subject !== null ? { subject: user.subject } : {}) } };
    await this.events.record({ type: 'user.deleted', subjectId: user.id, occurredAt: this.clock.now(), data }, scope);
  }
}

/** Declares the erasure job on a queue (before it starts); `erasure` runs it. */
export function registerErasureJob(jobs: JobQueue, erasure: AccountErasure): void {
  jobs.register<ErasePayload>(ERASE_JOB, ERASE_POLICY, async (payload, job) => {
    await erasure.run(payload.user_id, job.signal);
  });
}
