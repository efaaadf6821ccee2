/**
 * The job queue on SQLite: a `jobs` table in the application's own database and an
 * in-process runner that polls it. Claiming is one UPDATE ... RETURNING, atomic even
 * with several processes on one file; a running job holds a lease that its runner
 * renews, so a job whose process died is claimed again once the lease lapses.
 * Finished jobs are deleted; failed ones stay for inspection.
 */
import { sql, type Updateable } from 'kysely';
import type { Database } from '../db/database.js';
import type { JobsTable } from '../db/schema.js';
import { transactionOf } from '../db/transaction-scope.js';
import { type EnqueueOptions, JOB_TYPE_PATTERN, type JobCountState, type JobHandler, type JobPayload, type JobPolicy, type JobQueue, retryDelay } from '../domain/jobs/ports.js';
import type { JobLog } from './job-log.js';

interface JobType {
  policy: JobPolicy;
  handler: JobHandler;
  running: number;
}

interface ClaimedJob {
  id: number;
  payload: string;
  attempts: number;
  max_attempts: number;
}

export interface SqliteJobQueueOptions {
  /** Milliseconds between looks at the table when idle. */
  pollMs?: number;
  /** Milliseconds stop() waits for running handlers. */
  stopGraceMs?: number;
}

export class SqliteJobQueue implements JobQueue {
  private readonly database: Database;
  private readonly log: JobLog;

  private readonly types = new Map<string, JobType>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private readonly pollMs: number;
  private readonly stopGraceMs: number;

  constructor(
    database: Database,
    log: JobLog,
    options: SqliteJobQueueOptions = {},
  ) {
    this.database = database;
    this.log = log;
    this.pollMs = options.pollMs ?? 250;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
  }

  register<P extends JobPayload>(type: string, policy: JobPolicy, handler: JobHandler<P>): void {
    if (!JOB_TYPE_PATTERN.test(type)) throw new Error(`bad job type name ${JSON.stringify(type)}`);
    if (this.started) throw new Error('register job types before start()');
    this.types.set(type, { policy, handler: handler as JobHandler, running: 0 });
  }

  async enqueue(type: string, payload: JobPayload, options: EnqueueOptions = {}): Promise<void> {
    const policy = this.types.get(type)?.policy;
    if (!policy) throw new Error(`job type ${type} is not registered`);
    const now = Date.now();
    const db = options.within ? transactionOf(options.within) : this.database.db;
    await db
      .insertInto('jobs')
      .values({
        type,
        payload: JSON.stringify(payload),
        state: 'queued',
        attempts: 0,
        max_attempts: policy.maxAttempts,
        run_at: now + (options.delaySeconds ?? 0) * 1000,
        lease_until: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    if (!options.within) this.wake();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const grace = new Promise((resolve) => setTimeout(resolve, this.stopGraceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
  }

  async counts(type: string): Promise<Record<JobCountState, number>> {
    const rows = await this.database.db
      .selectFrom('jobs')
      .select(['state', sql<number>`count(*)`.as('n')])
      .where('type', '=', type)
      .groupBy('state')
      .execute();
    const counts: Record<JobCountState, number> = { queued: 0, running: 0, failed: 0 };
    for (const row of rows) if (row.state in counts) counts[row.state as JobCountState] = Number(row.n);
    return counts;
  }

  /** Looks for work now rather than at the next poll. */
  private wake(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), 0);
  }

  private async poll(): Promise<void> {
    this.timer = null;
    try {
      for (const [type, entry] of this.types) {
        while (this.started && entry.running < entry.policy.concurrency) {
          const job = await this.claim(type, entry.policy);
          if (!job) break;
          this.run(type, entry, job);
        }
      }
    } catch (error) {
      this.log.error(error, 'job queue poll failed');
    }
    if (this.started && !this.timer) {
      this.timer = setTimeout(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
  }

  private async claim(type: string, policy: JobPolicy): Promise<ClaimedJob | null> {
    const now = Date.now();
    const result = await sql<ClaimedJob>`
      update jobs set state = 'running', attempts = attempts + 1, lease_until = ${now + policy.leaseSeconds * 1000}, updated_at = ${now}
      where id = (
        select id from jobs
        where type = ${type} and ((state = 'queued' and run_at <= ${now}) or (state = 'running' and lease_until < ${now}))
        order by run_at, id limit 1)
      returning id, payload, attempts, max_attempts`.execute(this.database.db);
    return result.rows[0] ?? null;
  }

  private run(type: string, entry: JobType, job: ClaimedJob): void {
    entry.running += 1;
    const task = this.execute(type, entry, job)
      .catch((error: unknown) => this.log.error(error, `job ${type} #${job.id} bookkeeping failed`))
      .finally(() => {
        entry.running -= 1;
        this.inFlight.delete(task);
        this.wake();
      });
    this.inFlight.add(task);
  }

  private async execute(type: string, entry: JobType, job: ClaimedJob): Promise<void> {
    const { policy } = entry;
    if (job.attempts > job.max_attempts) {
      // Its runs keep dying with their process: give up on it like on any other failure.
      await this.settle(job, { state: 'failed', lease_until: null, last_error: 'interrupted on every attempt', updated_at: Date.now() });
      return;
    }
    const renew = setInterval(
      () =>
        void this.settle(job, { lease_until: Date.now() + policy.leaseSeconds * 1000 }).catch((error: unknown) => this.log.error(error, 'job lease renewal failed')),
      (policy.leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      await entry.handler(JSON.parse(job.payload) as JobPayload, {
        id: String(job.id),
        attempt: job.attempts,
        lastAttempt: job.attempts >= job.max_attempts,
        signal: this.stopping.signal,
      });
      clearInterval(renew);
      await this.database.db.deleteFrom('jobs').where('id', '=', job.id).where('attempts', '=', job.attempts).execute();
    } catch (error) {
      clearInterval(renew);
      if (this.stopping.signal.aborted) {
        // Stopped, not failed: the next start runs it again without spending an attempt.
        await this.settle(job, { state: 'queued', attempts: job.attempts - 1, lease_until: null, updated_at: Date.now() });
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      const last = job.attempts >= job.max_attempts;
      if (!last) this.log.warn(`job ${type} #${job.id} attempt ${job.attempts} failed: ${message}`);
      else this.log.error(error, `job ${type} #${job.id} failed after ${job.attempts} attempts`);
      const now = Date.now();
      await this.settle(
        job,
        last
          ? { state: 'failed', lease_until: null, last_error: message, updated_at: now }
          : { state: 'queued', lease_until: null, last_error: message, run_at: now + retryDelay(policy, job.attempts) * 1000, updated_at: now },
      );
    }
  }

  /** Writes to a job only while this run still owns it (a lapsed run's late writes are dropped). */
  private async settle(job: ClaimedJob, values: Updateable<JobsTable>): Promise<void> {
    await this.database.db
      .updateTable('jobs')
      .set(values)
      .where('id', '=', job.id)
      .where('attempts', '=', job.attempts)
      .where('state', '=', 'running')
      .execute();
  }
}
