/**
 * A queue node in its own process, for the kill -9 test: it takes jobs of one type and
 * says so on stdout, then hangs in the handler until it is killed.
 */
import { openDatabase } from '../../src/db/database.js';
import { openJobQueue } from '../../src/jobs/open-job-queue.js';
import { TEST_POLICY } from './policies.js';

const [url, type] = process.argv.slice(2) as [string, string];
const database = await openDatabase({ url, durable: true });
const queue = openJobQueue(database, url, { warn: console.error, error: (e, m) => console.error(m, e) }, { pollMs: 100 });
queue.register(type, TEST_POLICY, async (payload) => {
  process.stdout.write(`running ${JSON.stringify(payload)}\n`);
  await new Promise(() => undefined);
});
await queue.start();
process.stdout.write('ready\n');
