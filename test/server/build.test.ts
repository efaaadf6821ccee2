/**
 * The build (scripts/build.mjs) where esbuild is installed, as in a development install: Kysely
 * and TypeBox are bundled into dist/vendor/, no built file imports them from node_modules, and
 * the built server serves from that tree: its database (Kysely, migrations included), its request
 * checks (TypeBox's compiled validators and formats) and a chunked upload to its SHA1. Most tests
 * run src/ under tsx, and the production install builds without esbuild, so this is where the
 * bundled tree runs. It is built beside dist/ (.build-test-PID/, ignored by git) so that
 * packages resolve from node_modules and the web app's files are found as they are from dist/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const BUNDLED = ['kysely', 'kysely/migration', '@sinclair/typebox', '@sinclair/typebox/compiler'];

function builtFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'vendor' ? [] : builtFiles(full);
    return name.endsWith('.js') ? [full] : [];
  });
}

describe('the build with esbuild installed: Kysely and TypeBox bundled into dist/vendor/', () => {
  let out: string;
  let dataDir: string;
  let server: ServerProcess | null = null;

  before(async () => {
    out = path.join(ROOT, `.build-test-${process.pid}`);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-build-data-'));
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'scripts', 'build.mjs'), '--out', out], { stdio: 'pipe' });
  });
  after(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await rm(out, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  test('writes one bundle per package, and no built file imports them from node_modules', () => {
    for (const bundle of ['kysely.js', 'typebox.js']) assert.ok(existsSync(path.join(out, 'vendor', bundle)), `vendor/${bundle}`);
    const files = builtFiles(out);
    assert.ok(files.length > 100, `${files.length} built files`);
    const imports = /\b(?:from\s*|import\s*\(\s*|import\s+)(['"])([^'"]+)\1/g;
    const direct: string[] = [];
    let rewritten = 0;
    for (const file of files) {
      for (const [, , specifier] of readFileSync(file, 'utf8').matchAll(imports)) {
        if (BUNDLED.includes(specifier!)) direct.push(`${path.relative(out, file)}: ${specifier}`);
        if (/\/vendor\/(kysely|typebox)\.js$/.test(specifier!)) rewritten += 1;
      }
    }
    assert.deepEqual(direct, []);
    assert.ok(rewritten >= 20, `${rewritten} imports of the bundles`);
  });

  test('the built server migrates, checks requests and takes a chunked upload', { timeout: 120_000 }, async () => {
    server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', PASSWORD_HASH_LOG2N: '10' }, 60_000, { entry: path.join(out, 'server.js') });
    const base = server.base;
    assert.equal((await request(base, 'GET', '/readyz')).status, 200);
    const alice = await newUser(base, 'built');
    // TypeBox's compiled check of the body: a size that is not an integer.
    const bad = await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 'many', filename: 'a.bin' } } });
    assert.equal(bad.status, 400, bad.text);
    const file = randomFile(300_000);
    const id = await createAttachment(base, alice.token, file.length);
    assert.equal((await putRaw(base, alice.token, id, 200_000, file.subarray(200_000))).status, 200);
    const done = await putRaw(base, alice.token, id, 0, file.subarray(0, 200_000));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.body.attachment.sha1, sha1(file));
  });
});
