/**
 * The SDK and CLI as users get them: `npm pack` of packages/client, `npm install ./the.tgz` in
 * a fresh project, then the package in plain Node ESM (a real upload), in a bundler for
 * browsers, type-checked by TypeScript, and its CLI through `npx trickle` from a subfolder.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, sha1 } from '../helpers/client.js';
import { wavHeader } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const PACKAGE_DIR = path.join(ROOT, 'packages', 'client');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** Asynchronous: the server under test runs in this process. */
async function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(file, args, { cwd, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}${String(error)}`);
  }
}

describe('the client package', () => {
  const { name } = { name: 'trickle-audio-client' };
  let server: TestServer;
  let work: string;
  let project: string;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
    work = await mkdtemp(path.join(os.tmpdir(), 'trickle-package-'));
    project = path.join(work, 'project');
    await mkdir(path.join(project, 'some', 'folder'), { recursive: true });
    await run(process.execPath, [path.join(ROOT, 'scripts', 'build-client-package.mjs')], ROOT);
    const packed = JSON.parse(await run(NPM, ['pack', '--json', '--pack-destination', work], PACKAGE_DIR)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    assert.deepEqual(files.filter((f) => !/^(dist\/|package\.json$|README\.md$)/.test(f)), [], 'only dist, package.json and README are packed');
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'an-app', private: true, type: 'module' }));
    await run(NPM, ['install', path.join(work, packed[0]!.filename), '--prefer-offline', '--no-audit', '--no-fund'], project);
  });
  after(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('plain Node ESM: import { TrickleClient, upload } and upload a file', async () => {
    const { token } = await newUser(server.url, 'pkg');
    const data = Buffer.concat([wavHeader(300_000), Buffer.alloc(300_000, 7)]);
    await writeFile(path.join(project, 'memo.wav'), data);
    await writeFile(
      path.join(project, 'app.mjs'),
      [
        `import { TrickleClient, upload } from '${name}';`,
        'const client = new TrickleClient({ server: process.env.SERVER, token: process.env.TOKEN });',
        "const file = await upload('memo.wav', { client });",
        'const account = await client.account();',
        'console.log(JSON.stringify({ fingerprint: file.fingerprint, username: account.username }));',
      ].join('\n'),
    );
    const out = JSON.parse(await run(process.execPath, ['app.mjs'], project, { ...process.env, SERVER: server.url, TOKEN: token }));
    assert.equal(out.fingerprint, sha1(data));
    assert.match(out.username, /^pkg/);
  });

  test('a bundler for browsers picks the portable entry, without Node built-ins', async () => {
    await writeFile(path.join(project, 'web.mjs'), `import { TrickleClient, upload } from '${name}';\nexport { TrickleClient, upload };\n`);
    const result = await build({ entryPoints: [path.join(project, 'web.mjs')], absWorkingDir: project, bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((f) => f.endsWith(`${name}/dist/browser.js`)), inputs.join('\n'));
    assert.doesNotMatch(result.outputFiles[0]!.text, /from ["']node:/);
  });

  test('TypeScript finds the declarations', async () => {
    await writeFile(
      path.join(project, 'typed.ts'),
      [
        `import { TrickleClient, upload, type UploadResult } from '${name}';`,
        "const client = new TrickleClient({ server: 'http://127.0.0.1:1' });",
        "const pending: Promise<UploadResult> = upload('memo.wav', { client });",
        'void pending;',
      ].join('\n'),
    );
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), 'typed.ts'], project);
  });

  test('the CLI runs through npx from any folder of the project', async () => {
    const version = JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')).version as string;
    const folder = path.join(project, 'some', 'folder');
    assert.equal((await run(NPX, ['--offline', 'trickle', '--version'], folder)).trim(), version);
    assert.match(await run(NPX, ['--offline', 'trickle', '--help'], folder), /upload +upload an audio file/);
  });
});
