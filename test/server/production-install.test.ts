/**
 * The production install (SPEC 6): a fresh copy of the repository, `npm ci --omit=dev`, then
 * the README's start command serves, with no TypeScript compiler, linter, bundler or browser
 * driver installed. The copy holds the files git tracks or would (not ignored), as they are in
 * the working tree: on a clean checkout, exactly a clone. npm may take packages from its cache
 * (`--prefer-offline`).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../helpers/server-process.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
/** Development tools that must not be in a production install. */
const DEV_ONLY = ['typescript', 'eslint', 'playwright-core', 'tsx', 'esbuild', '@types/node'];

function trackedFiles(): string[] | null {
  try {
    const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
    // A worktree's node_modules may be a symbolic link, which `node_modules/` in .gitignore does not match.
    return listed.split('\0').filter((file) => file && file !== 'node_modules');
  } catch {
    return null;
  }
}

function megabytes(dir: string): number {
  return Number(execFileSync('du', ['-sm', dir], { encoding: 'utf8' }).split('\t')[0]);
}

const files = trackedFiles();
const skip = files ? false : 'not a git checkout: no list of the files a clone would have';

describe('production install: npm ci --omit=dev, then npm start (and npm run backup)', { skip }, () => {
  let dir: string;
  let copy: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-production-'));
    copy = path.join(dir, 'trickle');
    for (const file of files!) {
      // A file deleted in the working tree but not yet in git is not part of the copy.
      if (!existsSync(path.join(ROOT, file))) continue;
      await mkdir(path.dirname(path.join(copy, file)), { recursive: true });
      await cp(path.join(ROOT, file), path.join(copy, file));
    }
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('installs without development dependencies and serves the API and the web app', { timeout: 300_000 }, async () => {
    const started = Date.now();
    const install = spawnSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: copy, encoding: 'utf8' });
    assert.equal(install.status, 0, `npm ci --omit=dev failed:\n${install.stdout}${install.stderr}`);
    const installSeconds = (Date.now() - started) / 1000;
    for (const name of DEV_ONLY) assert.equal(existsSync(path.join(copy, 'node_modules', name)), false, `${name} is installed`);
    assert.ok(existsSync(path.join(copy, 'dist', 'server.js')), 'npm ci built dist/');
    // Without esbuild the build bundles nothing: the server imports every package from node_modules.
    assert.equal(existsSync(path.join(copy, 'dist', 'vendor')), false, 'dist/vendor/ without esbuild');
    console.log(`# production install: ${installSeconds.toFixed(1)} s, node_modules ${megabytes(path.join(copy, 'node_modules'))} MB, dist ${megabytes(path.join(copy, 'dist'))} MB`);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const launched = Date.now();
    const server = spawn('npm', ['start'], {
      cwd: copy,
      env: { ...process.env, PORT: String(port), DATA_DIR: path.join(dir, 'data'), PASSWORD_HASH_LOG2N: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // npm, its shell and node: one process group, stopped together below
    });
    let output = '';
    server.stdout.on('data', (data: Buffer) => (output += data.toString()));
    server.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      let healthy = false;
      for (let i = 0; i < 600 && !healthy && server.exitCode === null; i += 1) {
        healthy = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status === 200, () => false);
        if (!healthy) await delay(100);
      }
      assert.ok(healthy, `the server did not answer /healthz; its output:\n${output}`);
      console.log(`# npm start to /healthz 200: ${((Date.now() - launched) / 1000).toFixed(1)} s`);
      // The web app and the SDK modules it loads come from the same install.
      for (const file of ['/', '/app/app.js', '/app/client/index.js', '/app/vendor/@noble/hashes/legacy.js']) {
        assert.equal((await fetch(`${base}${file}`)).status, 200, file);
      }
      const created = await fetch(`${base}/users`, { method: 'POST', body: new URLSearchParams({ 'user[username]': 'prod', 'user[email]': 'prod@example.com', 'user[password]': 'secret123' }) });
      assert.equal(created.status, 201);
      // The backup command runs from the same install, beside the running server.
      const backup = spawnSync('npm', ['run', '-s', 'backup', '--', '--to', path.join(dir, 'backup')], { cwd: copy, env: { ...process.env, DATA_DIR: path.join(dir, 'data') }, encoding: 'utf8' });
      assert.equal(backup.status, 0, `npm run backup failed:\n${backup.stdout}${backup.stderr}`);
      assert.ok(existsSync(path.join(dir, 'backup', 'manifest.json')));
    } finally {
      process.kill(-server.pid!, 'SIGTERM');
      await Promise.race([exited, delay(30_000)]);
      if (server.exitCode === null && server.signalCode === null) process.kill(-server.pid!, 'SIGKILL');
    }
  });
});
