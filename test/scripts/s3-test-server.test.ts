/**
 * scripts/s3-test-server.sh (issue 22, item 11): a second test S3 server starts on other
 * ports beside the first, answers S3 with the test keys, and stopping it stops only it. The
 * default server (port 7480), which other test runs may be using, is never stopped: where it
 * runs, it must answer before, during and after.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../helpers/server-process.js';

const SCRIPT = path.join(import.meta.dirname, '..', '..', 'scripts', 's3-test-server.sh');
const run = promisify(execFile);

function hasCeph(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function answers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).then(
    (reply) => reply.status > 0,
    () => false,
  );
}

/** Running, that is: a zombie (gone, waiting for its parent to reap it) does not count. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('a second S3 test server runs beside the first on other ports and stops alone', { skip: hasCeph() ? undefined : 'Ceph is not installed (scripts/ci-apt.sh)' }, async (t) => {
  const defaultRunning = await answers(7480);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-s3-second-'));
  const [port, monPort] = [await freePort(), await freePort()];
  const env = { ...process.env, S3_TEST_DIR: dir, S3_TEST_PORT: String(port), S3_TEST_MON_PORT: String(monPort), S3_TEST_MEMORY: String(256 * 1024 * 1024) };
  let started = false;
  try {
    // Generous: a cold Ceph start on a loaded 2-core machine.
    const { stdout } = await run('bash', [SCRIPT, 'start'], { env, timeout: 240_000 });
    started = true;
    assert.match(stdout, new RegExp(`TEST_S3_ENDPOINT=http://127.0.0.1:${port}\\b`));
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'trickle-test-access-key', secretAccessKey: 'trickle-test-secret-key' },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'second' }));
      await client.send(new PutObjectCommand({ Bucket: 'second', Key: 'k', Body: 'beside the first' }));
      const object = await client.send(new GetObjectCommand({ Bucket: 'second', Key: 'k' }));
      assert.equal(await object.Body!.transformToString(), 'beside the first');
    } finally {
      client.destroy();
    }
    if (defaultRunning) assert.ok(await answers(7480), 'the default server answers while the second runs');

    const pids = await Promise.all((await readdir(path.join(dir, 'run'))).filter((name) => name.endsWith('.pid')).map(async (name) => Number(await readFile(path.join(dir, 'run', name), 'utf8'))));
    assert.equal(pids.length, 3, 'a monitor, an OSD and a gateway');
    await run('bash', [SCRIPT, 'stop'], { env, timeout: 60_000 });
    started = false;
    assert.deepEqual(pids.filter(alive), [], 'the second server\'s daemons are gone');
    assert.equal(existsSync(dir), false, 'its folder is deleted');
    assert.equal(await answers(port), false);
    if (defaultRunning) assert.ok(await answers(7480), 'the default server still answers');
    t.diagnostic(`second server on ${port}/${monPort}; default server ${defaultRunning ? 'running throughout' : 'not running'}`);
  } finally {
    if (started) await run('bash', [SCRIPT, 'stop'], { env, timeout: 60_000 }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test('the script refuses a folder made for another port instead of stopping that server', async () => {
  // A folder as the default server's looks (its configuration names port 7480), with no daemons.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-s3-foreign-'));
  try {
    await mkdir(path.join(dir, 'run'));
    await writeFile(path.join(dir, 'ceph.conf'), '[client.rgw]\nrgw frontends = beast endpoint=127.0.0.1:7480\n');
    await writeFile(path.join(dir, 'run', 'mon.a.pid'), '999999999\n');
    const env = { ...process.env, S3_TEST_DIR: dir, S3_TEST_PORT: String(await freePort()), S3_TEST_MON_PORT: String(await freePort()) };
    for (const command of ['start', 'stop']) {
      const outcome = await run('bash', [SCRIPT, command], { env, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      assert.equal(outcome.code, 1, command);
      assert.match(outcome.stderr, /belongs to a server on another port/);
      assert.ok(existsSync(path.join(dir, 'ceph.conf')), `${command} left the folder alone`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
