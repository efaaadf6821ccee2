/**
 * The portable client must run in browsers: bundled for the browser platform it needs no
 * Node built-in, and the bundle works with nothing but fetch, Blob and AbortSignal (run here
 * in Node, whose globals are the browser's for these).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';
import type * as PortableClient from '../../src/client/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, sha1 } from '../helpers/client.js';
import { wavHeader } from '../helpers/media.js';
import { startServer } from '../helpers/server.js';

const ENTRY = path.join(import.meta.dirname, '..', '..', 'src', 'client', 'index.ts');

test('the portable client bundles for browsers without Node built-ins', async () => {
  const result = await build({ entryPoints: [ENTRY], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
  assert.deepEqual(result.errors, []);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((file) => file.includes('@noble/hashes')), 'the portable SHA1 is bundled');
  assert.deepEqual(inputs.filter((file) => file.startsWith('node:') || /src\/(db|storage|http\/routes|domain\/attachments)\//.test(file)), []);
  const code = result.outputFiles[0]!.text;
  assert.doesNotMatch(code, /from ["']node:/);
  // Small enough to ship to a phone's browser: no server code came along.
  assert.ok(code.length < 150_000, `bundle is ${code.length} bytes`);

  // The browser bundle itself uploads a Blob to a real server.
  const server = await startServer(databaseKinds()[0]!);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-bundle-'));
  try {
    const bundle = path.join(dir, 'client.mjs');
    await writeFile(bundle, code);
    const client = (await import(pathToFileURL(bundle).href)) as typeof PortableClient;
    const { token } = await newUser(server.url, 'browser');
    const data = Buffer.concat([wavHeader(700_000), randomBytes(700_000)]);
    const result = await client.upload(new Blob([data]), { server: server.url, token, chunkSizing: { initial: 64 * 1024, min: 64 * 1024 } });
    assert.equal(result.fingerprint, sha1(data));
    const api = new client.TrickleClient({ server: server.url, token });
    const { clip } = await api.createClip({ title: 'from a browser bundle', audio: { chunked_attachment_id: result.attachmentId, fingerprint: result.fingerprint } });
    assert.equal(clip.audio.size, data.length);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
