/**
 * The job queue on PostgreSQL, with pg-boss: it claims jobs with SKIP LOCKED (each job on
 * one node), keeps per-queue retry policies with exponential backoff and a cap, and
 * retries a job whose worker stopped sending heartbeats (a node killed mid-run). Its
 * `send` accepts a database executor, so a job can be inserted by our own open Kysely
 * transaction: the outbox. pg-boss keeps its tables in its own schema (`pgboss`), which
 * it creates and migrates at start.
 *
 * Chosen over graphile-worker because pg-boss lets each queue set its own retry limit,
 * initial delay, doubling and maximum delay (webhooks: 1 s doubling to 1 h for a day;
 * media: a few quick retries), where graphile-worker's backoff is one fixed formula
 * (exp(min(attempt, 10)) seconds) for every task. Both fit Node 22+ (`engines`).
 */
import { sql } from 'kysely';
import type { Database } from '../db/database.js';
import type { Db, JobWithMetadata, PgBoss } from 'pg-boss';
import { transactionOf } from '../db/transaction-scope.js';
import { type EnqueueOptions, JOB_TYPE_PATTERN, type JobCountState, type JobHandler, type JobPayload, type JobPolicy, type JobQueue, type TransactionScope } from '../domain/jobs/ports.js';
import type { JobLog } from './job-log.js';

interface JobType {
  policy: JobPolicy;
  handler: JobHandler;
}

export interface PgBossJobQueueOptions {
  /** Seconds between idle polls of one queue (pg-boss's floor is 0.5). */
  pollSeconds?: number;
  /** How often a node looks for jobs whose heartbeat stopped (dead workers). */
  superviseSeconds?: number;
}

type PgBossModule = typeof import('pg-boss');

/** pg-boss runs its statements on our transaction's connection: the job commits with it. */
function executorFor(pgBoss: PgBossModule, scope: TransactionScope): Db {
  return pgBoss.fromKysely(transactionOf(scope));
}

export class PgBossJobQueue implements JobQueue {
  private readonly database: Database;
  private readonly log: JobLog;

  private readonly connectionString: string;
  private readonly superviseSeconds: number;
  /** pg-boss, and pg with it, load when the queue is first used (start or enqueue), not with the server's modules. */
  private loaded: { pgBoss: PgBossModule; boss: PgBoss } | null = null;
  private readonly types = new Map<string, JobType>();
  private prepared: Promise<void> | null = null;
  private working: Promise<void> | null = null;
  private readonly pollSeconds: number;

  constructor(
    database: Database,
    connectionString: string,
    log: JobLog,
    options: PgBossJobQueueOptions = {},
  ) {
    this.database = database;
    this.log = log;
    this.pollSeconds = options.pollSeconds ?? 0.5;
    this.connectionString = connectionString;
    this.superviseSeconds = options.superviseSeconds ?? 5;
  }

  /** pg-boss once prepare() has loaded it. */
  private get boss(): PgBoss {
    if (!this.loaded) throw new Error('the job queue is not prepared');
    return this.loaded.boss;
  }

  register<P extends JobPayload>(type: string, policy: JobPolicy, handler: JobHandler<P>): void {
    if (!JOB_TYPE_PATTERN.test(type)) throw new Error(`bad job type name ${JSON.stringify(type)}`);
    if (this.prepared) throw new Error('register job types before start() and enqueue()');
    if (policy.leaseSeconds < 10) throw new Error('leaseSeconds must be at least 10');
    this.types.set(type, { policy, handler: handler as JobHandler });
  }

  async enqueue(type: string, payload: JobPayload, options: EnqueueOptions = {}): Promise<void> {
    if (!this.types.has(type)) throw new Error(`job type ${type} is not registered`);
    await this.prepare();
    await this.boss.send(type, payload, {
      ...(options.within ? { db: executorFor(this.loaded!.pgBoss, options.within) } : {}),
      ...(options.delaySeconds ? { startAfter: options.delaySeconds } : {}),
    });
  }

  /** Connects and makes the queues, without taking jobs: enough to enqueue. */
  private prepare(): Promise<void> {
    this.prepared ??= this.makeQueues();
    return this.prepared;
  }

  private async makeQueues(): Promise<void> {
    const pgBoss = await import('pg-boss');
    const boss = new pgBoss.PgBoss({
      connectionString: this.connectionString,
      max: 4,
      application_name: 'trickle-jobs',
      // Dead workers are found by each queue's monitor pass, which runs at most this often.
      superviseIntervalSeconds: this.superviseSeconds,
      monitorIntervalSeconds: this.superviseSeconds,
      // No schedules: the cron machinery would only poll for nothing.
      schedule: false,
    });
    boss.on('error', (error) => this.log.error(error, 'pg-boss error'));
    this.loaded = { pgBoss, boss };
    await boss.start();
    for (const [type, { policy }] of this.types) {
      const queue = {
        retryLimit: policy.maxAttempts - 1,
        retryDelay: policy.retryDelaySeconds,
        retryBackoff: policy.exponential,
        ...(policy.exponential ? { retryDelayMax: policy.maxRetryDelaySeconds } : {}),
        heartbeatSeconds: policy.leaseSeconds,
        // The lease (heartbeat) finds dead workers; this only bounds a live but stuck one.
        expireInSeconds: 3600,
        // Unstarted jobs stay for the whole retry window and then some.
        retentionSeconds: 14 * 24 * 3600,
      };
      if (await this.boss.getQueue(type)) await this.boss.updateQueue(type, queue);
      else await this.boss.createQueue(type, queue);
    }
  }

  start(): Promise<void> {
    this.working ??= this.work();
    return this.working;
  }

  private async work(): Promise<void> {
    await this.prepare();
    for (const [type, { policy, handler }] of this.types) {
      await this.boss.work(
        type,
        { localConcurrency: policy.concurrency, batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.pollSeconds },
        async (jobs: Array<JobWithMetadata<JobPayload>>) => {
          for (const job of jobs) await this.runOne(handler, job);
        },
      );
    }
  }

  private async runOne(handler: JobHandler, job: JobWithMetadata<JobPayload>): Promise<void> {
    await handler(job.data, {
      id: job.id,
      attempt: job.retryCount + 1,
      lastAttempt: job.retryCount >= job.retryLimit,
      signal: job.signal,
    });
  }

  async stop(): Promise<void> {
    if (!this.prepared) return;
    await Promise.allSettled([this.prepared, this.working]);
    if (!this.loaded) return;
    await this.boss.stop({ graceful: true, timeout: 10_000, close: true });
  }

  /** Read from pg-boss's job table directly: its own queue counts are cached for up to a minute. */
  async counts(type: string): Promise<Record<JobCountState, number>> {
    await this.prepare();
    const result = await sql<{ state: string; n: number }>`select state, count(*)::int as n from pgboss.job where name = ${type} group by state`.execute(
      this.database.db,
    );
    const counts: Record<JobCountState, number> = { queued: 0, running: 0, failed: 0 };
    for (const { state, n } of result.rows) {
      if (state === 'created' || state === 'retry') counts.queued += n;
      else if (state === 'active') counts.running += n;
      else if (state === 'failed') counts.failed += n;
    }
    return counts;
  }
}
