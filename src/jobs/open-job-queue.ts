/** The job queue adapter that fits the database: pg-boss on PostgreSQL, a table on SQLite. */
import type { Database } from '../db/database.js';
import type { JobQueue } from '../domain/jobs/ports.js';
import type { JobLog } from './job-log.js';
import { PgBossJobQueue } from './pg-boss-job-queue.js';
import { SqliteJobQueue } from './sqlite-job-queue.js';

export interface JobQueueTuning {
  /** Idle poll interval in milliseconds (tests shorten it). */
  pollMs?: number;
}

export function openJobQueue(database: Database, databaseUrl: string, log: JobLog, tuning: JobQueueTuning = {}): JobQueue {
  if (database.dialect === 'postgres') {
    return new PgBossJobQueue(database, databaseUrl, log, tuning.pollMs ? { pollSeconds: Math.max(0.5, tuning.pollMs / 1000) } : {});
  }
  return new SqliteJobQueue(database, log, tuning.pollMs ? { pollMs: tuning.pollMs } : {});
}
