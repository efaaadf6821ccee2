/**
 * An old Node says so (issue 22, item 13): on Node 20, `npm start` died with a segmentation
 * fault (exit 139) in better-sqlite3 and no message. Every entry point now stops at once with
 * a message naming the Node.js version needed and scripts/use-node24.sh. The end-to-end
 * checks run the machine's own old Node (the one use-node24.sh shadows) and skip without one.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MINIMUM_NODE_MAJOR, oldNodeMessage } from '../../src/required-node.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const TSX = import.meta.resolve('tsx');

/** A `node` older than the minimum on this machine: on PATH behind use-node24.sh's, or /usr/bin/node. */
function findOldNode(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'node'));
  for (const candidate of [...onPath, '/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10_000 }).trim();
      if (Number(version.split('.')[0]) < MINIMUM_NODE_MAJOR) return candidate;
    } catch {
      // Not there, or not a node.
    }
  }
  return undefined;
}

function assertRefused(result: ReturnType<typeof spawnSync>, what: string): void {
  const stderr = String(result.stderr);
  assert.equal(result.signal, null, `${what}: ended by ${result.signal}; stderr: ${stderr}`);
  assert.equal(result.status, 1, `${what}: exit ${result.status}; stderr: ${stderr}`);
  assert.match(stderr, new RegExp(`needs Node\\.js ${MINIMUM_NODE_MAJOR} or newer`), what);
  assert.match(stderr, /\. scripts\/use-node24\.sh/, what);
}

test('the message names the version found, the version needed and scripts/use-node24.sh; supported versions pass', () => {
  const message = oldNodeMessage('20.20.2');
  assert.ok(message);
  assert.match(message, /this is Node\.js 20\.20\.2; Trickle needs Node\.js 22 or newer/);
  assert.match(message, /`\. scripts\/use-node24\.sh`/);
  for (const version of ['22.0.0', '24.21.0', '26.1.0']) assert.equal(oldNodeMessage(version), null, version);
  assert.equal(oldNodeMessage(), null, 'this test runs on a supported Node');
});

test('the minimum is the one package.json and the client package declare', async () => {
  for (const file of ['package.json', 'packages/client/package.json']) {
    const pkg = JSON.parse(await readFile(path.join(ROOT, file), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${MINIMUM_NODE_MAJOR}`, file);
  }
});

const oldNode = findOldNode();

describe('on an old Node', { skip: oldNode ? undefined : `no Node.js older than ${MINIMUM_NODE_MAJOR} on this machine` }, () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(oldNode!, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });

  test('the server entry (npm start, npm run dev, tests) stops with the message before opening anything', async (t) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-old-node-'));
    try {
      // PORT 0: were it to start, it would not take a port another test uses.
      const result = run(['--import', TSX, path.join('src', 'server.ts')], { DATA_DIR: dataDir, PORT: '0' });
      assertRefused(result, 'src/server.ts');
      t.diagnostic(`${oldNode}: ${String(result.stderr).split('\n')[0]}`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the CLI stops with the message, for `trickle serve` and every other command', () => {
    for (const args of [['serve'], ['--version']]) assertRefused(run(['--import', TSX, path.join('src', 'cli', 'main.ts'), ...args]), `trickle ${args.join(' ')}`);
  });

  test('`npm start` and `npm test` stop in their first script, before building or testing anything', async (t) => {
    assertRefused(run([path.join('scripts', 'run-tests.mjs'), 'test/none.test.ts']), 'scripts/run-tests.mjs');
    const npm = path.join(path.dirname(oldNode!), 'npm');
    if (!existsSync(npm)) return t.skip(`no npm beside ${oldNode}`);
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-old-node-'));
    try {
      const started = Date.now();
      const env = { ...process.env, PATH: `${path.dirname(oldNode!)}${path.delimiter}${process.env.PATH}`, DATA_DIR: dataDir, PORT: '0' };
      const result = spawnSync(npm, ['start'], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
      assert.equal(result.signal, null, String(result.stderr));
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /needs Node\.js \d+ or newer[^]*\. scripts\/use-node24\.sh/);
      assert.doesNotMatch(result.stderr + result.stdout, /compiling|dist\/server\.js/, 'nothing after the check ran');
      t.diagnostic(`npm start on ${oldNode}: exit ${result.status} after ${Date.now() - started} ms`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
