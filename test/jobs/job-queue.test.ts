/**
 * The job queue port's conformance suite, run against every adapter: the SQLite table
 * runner and pg-boss on PostgreSQL. Each test uses its own job type, so tests that share
 * a database never see each other's jobs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { openDatabase, type Database } from '../../src/db/database.js';
import { scopeOf } from '../../src/db/transaction-scope.js';
import { type JobContext, type JobPayload, type JobQueue, retryDelay } from '../../src/domain/jobs/ports.js';
import { openJobQueue } from '../../src/jobs/open-job-queue.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { TEST_POLICY } from './policies.js';

const quiet = { warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('exponential retry delays double from the first and stop at the cap', () => {
  const webhook = { ...TEST_POLICY, retryDelaySeconds: 1, maxRetryDelaySeconds: 3600 };
  assert.deepEqual([1, 2, 3, 4, 12, 13, 40].map((n) => retryDelay(webhook, n)), [1, 2, 4, 8, 2048, 3600, 3600]);
  assert.equal(retryDelay({ ...webhook, exponential: false }, 7), 1);
});

for (const kind of databaseKinds()) {
  describe(`job queue on ${kind.name}`, { skip: kind.skip }, () => {
    let dataDir: string;
    let testDatabase: TestDatabase;
    let database: Database;
    const opened: Array<{ queue: JobQueue; database?: Database }> = [];

    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-jobs-'));
      testDatabase = await kind.create(dataDir);
      database = await openDatabase({ url: testDatabase.url, durable: false });
    });

    after(async () => {
      for (const { queue, database: own } of opened) {
        await queue.stop();
        await own?.close();
      }
      await database.close();
      await testDatabase.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    /** A queue node; `separate` gives it its own database connection, as another process has. */
    async function node(separate = false): Promise<{ queue: JobQueue; database: Database }> {
      const db = separate ? await openDatabase({ url: testDatabase.url, durable: false }) : database;
      const queue = openJobQueue(db, testDatabase.url, quiet, { pollMs: 100 });
      opened.push(separate ? { queue, database: db } : { queue });
      return { queue, database: db };
    }

    test('runs a job with its payload once, then it is gone', async () => {
      const { queue } = await node();
      const seen: Array<{ payload: JobPayload; job: JobContext }> = [];
      queue.register('plain', TEST_POLICY, async (payload, job) => void seen.push({ payload, job }));
      await queue.start();
      await queue.enqueue('plain', { clipId: 7, note: 'é' });
      await until('the job', () => seen.length === 1);
      assert.deepEqual(seen[0]!.payload, { clipId: 7, note: 'é' });
      assert.equal(seen[0]!.job.attempt, 1);
      assert.equal(seen[0]!.job.lastAttempt, false);
      await until('the job to be settled', async () => (await queue.counts('plain')).running === 0);
      await sleep(300);
      assert.equal(seen.length, 1);
      assert.deepEqual(await queue.counts('plain'), { queued: 0, running: 0, failed: 0 });
    });

    test('outbox: a job enqueued in a transaction exists only if the transaction commits', async () => {
      const { queue } = await node();
      const seen: number[] = [];
      queue.register('outbox', TEST_POLICY, async (payload) => void seen.push(payload.n as number));
      await queue.start();
      await assert.rejects(
        database.db.transaction().execute(async (trx) => {
          await queue.enqueue('outbox', { n: 1 }, { within: scopeOf(trx) });
          throw new Error('roll back');
        }),
        /roll back/,
      );
      await database.db.transaction().execute(async (trx) => {
        await queue.enqueue('outbox', { n: 2 }, { within: scopeOf(trx) });
        // Not visible to the runner before the commit.
        await sleep(400);
        assert.deepEqual(seen, []);
      });
      await until('the committed job', () => seen.length === 1);
      await sleep(500);
      assert.deepEqual(seen, [2]);
    });

    test('a failing job is retried with a delay until it succeeds', async () => {
      const { queue } = await node();
      const runs: Array<{ at: number; job: JobContext }> = [];
      queue.register('flaky', TEST_POLICY, async (_payload, job) => {
        runs.push({ at: Date.now(), job });
        if (job.attempt < 3) throw new Error(`failure ${job.attempt}`);
      });
      await queue.start();
      await queue.enqueue('flaky', { n: 1 });
      await until('three runs', () => runs.length === 3);
      assert.deepEqual(
        runs.map((r) => [r.job.attempt, r.job.lastAttempt]),
        [
          [1, false],
          [2, false],
          [3, true],
        ],
      );
      assert.equal(new Set(runs.map((r) => r.job.id)).size, 1);
      // pg-boss jitters the delay between half and all of it; never sooner.
      assert.ok(runs[1]!.at - runs[0]!.at >= 450, `first retry after ${runs[1]!.at - runs[0]!.at} ms`);
      await sleep(300);
      assert.equal(runs.length, 3);
    });

    test('attempts are bounded: a job that always fails stops as failed', async () => {
      const { queue } = await node();
      let calls = 0;
      queue.register('doomed', { ...TEST_POLICY, maxAttempts: 2 }, async () => {
        calls += 1;
        throw new Error('always');
      });
      await queue.start();
      await queue.enqueue('doomed', {});
      await until('the job to fail', async () => (await queue.counts('doomed')).failed === 1);
      await sleep(1500);
      assert.equal(calls, 2);
      assert.deepEqual(await queue.counts('doomed'), { queued: 0, running: 0, failed: 1 });
    });

    test('a delayed job waits', async () => {
      const { queue } = await node();
      let ranAt = 0;
      queue.register('later', TEST_POLICY, async () => void (ranAt = Date.now()));
      await queue.start();
      const sent = Date.now();
      await queue.enqueue('later', {}, { delaySeconds: 2 });
      await until('the delayed job', () => ranAt > 0);
      assert.ok(ranAt - sent >= 1900, `ran after ${ranAt - sent} ms`);
    });

    test('on several nodes every job runs exactly once', async () => {
      const runs = new Map<number, number>();
      const nodes = [await node(true), await node(true)];
      for (const { queue } of nodes) {
        queue.register('shared', { ...TEST_POLICY, concurrency: 3 }, async (payload) => {
          const n = payload.n as number;
          runs.set(n, (runs.get(n) ?? 0) + 1);
          await sleep(20);
        });
      }
      await Promise.all(nodes.map(({ queue }) => queue.start()));
      for (let n = 0; n < 30; n++) await nodes[n % 2]!.queue.enqueue('shared', { n });
      await until('30 jobs', () => runs.size === 30);
      await sleep(800);
      assert.equal(runs.size, 30);
      assert.deepEqual([...new Set(runs.values())], [1]);
    });

    test('a job whose node was killed with SIGKILL mid-run runs again on another node', { timeout: 90_000 }, async () => {
      const { queue } = await node();
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'queue-node.ts'), testDatabase.url, 'killed'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout! });
      const running = new Promise<string>((resolve) => lines.on('line', (line) => line.startsWith('running') && resolve(line)));
      let attempt = 0;
      queue.register('killed', TEST_POLICY, async (_payload, job) => void (attempt = job.attempt));
      // This node only enqueues until the other one has the job.
      await queue.enqueue('killed', { n: 42 });
      assert.equal(await running, 'running {"n":42}');
      child.kill('SIGKILL');
      await once(child, 'exit');
      const killedAt = Date.now();
      await queue.start();
      await until('the job to run again', () => attempt > 0, 60_000);
      assert.equal(attempt, 2);
      const waited = Date.now() - killedAt;
      assert.ok(waited < 40_000, `taken over after ${waited} ms`);
    });
  });
}
