/**
 * The OpenAPI document at /openapi.json passes a standard validator, and a typed client
 * generated from it (openapi-typescript + openapi-fetch) type-checks and makes a real call.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import openapiTS, { astToString } from 'openapi-typescript';
import { databaseKinds } from '../helpers/databases.js';
import { newUser } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ROOT = path.join(import.meta.dirname, '..', '..');

/** Runs node with `args`; asynchronous, as the server under test lives in this process. */
async function node(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; output: string; stdout: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { ...options, encoding: 'utf8', timeout: 120_000 });
    return { code: 0, output: stdout + stderr, stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${String(error)}`, stdout: e.stdout ?? '' };
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is checked field by field */
describe('OpenAPI', () => {
  let server: TestServer;
  let doc: any;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
    doc = await (await fetch(`${server.url}/openapi.json`)).json();
  });
  after(() => server.close());

  test('validates with a standard OpenAPI validator', async () => {
    await SwaggerParser.validate(structuredClone(doc));
  });

  test('every operation has a success and error responses, and bearer security where a token is needed', () => {
    for (const [route, operations] of Object.entries<any>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const statuses = Object.keys(operation.responses);
        assert.ok(statuses.some((s) => s.startsWith('2') || s === '302'), `${method} ${route} has no success response`);
        assert.ok(statuses.includes('4XX') && statuses.includes('5XX'), `${method} ${route} lacks error responses`);
        if (route.startsWith('/attachments') || route.startsWith('/account')) assert.deepEqual(operation.security, [{ bearer: [] }], `${method} ${route}`);
      }
    }
    const chunk = doc.paths['/attachments/{id}'].put.requestBody.content;
    assert.ok(chunk['multipart/form-data'] && chunk['application/octet-stream']);
    const page = doc.paths['/audio_clips'].get.parameters.find((p: any) => p.name === 'page');
    assert.equal(page.style, 'deepObject');
    const audio = doc.paths['/audio_clips/{id}/audio'].get.responses;
    assert.ok(audio['200'].content['audio/*'] && audio['206'].content['audio/*']);
    // SPEC 8: renditions are files too, the MP3 of a clip is a redirect away, and views say how processing went.
    assert.ok(doc.paths['/audio_clips/{id}/audio.mp3'].get.responses['206'].content['audio/mpeg']);
    assert.ok(doc.paths['/account/messages/{id}/waveform.json'].get.responses['200'].content['application/json']);
    assert.ok(doc.paths['/audio_clips/{id}.mp3'].get.responses['302']);
    assert.deepEqual(doc.paths['/audio_clips/{id}/images/{name}'].get.security, [{}, { bearer: [] }]);
    assert.ok(doc.paths['/audio_clips/{id}'].get.parameters.some((p: any) => p.name === 'image_size_hint' && p.style === 'deepObject'));
    const clip = doc.paths['/audio_clips/{id}'].get.responses['200'].content['application/json'].schema.properties.body.properties.audio_clip;
    assert.deepEqual(clip.properties.processing.enum, ['queued', 'processing', 'ready', 'failed', 'unavailable']);
  });

  test('operations: /files/ for tus and the IETF draft with their headers, /readyz, /healthz, /metrics, GET /attachments', () => {
    const create = doc.paths['/files/'].post;
    const names = (operation: any) => operation.parameters.map((p: any) => p.name);
    for (const name of ['Tus-Resumable', 'Upload-Draft-Interop-Version', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Metadata', 'Upload-Concat', 'Upload-Complete']) assert.ok(names(create).includes(name), name);
    assert.ok(create.responses['201'].headers.Location);
    const append = doc.paths['/files/{id}'].patch;
    assert.ok(names(append).includes('Upload-Offset') && names(append).includes('Upload-Checksum'));
    assert.ok(append.requestBody.content['application/offset+octet-stream'] && append.requestBody.content['application/partial-upload']);
    assert.ok(doc.paths['/files/{id}'].head.responses['200'].headers['Upload-Offset'] && doc.paths['/files/{id}'].head.responses['204'].headers['Upload-Complete']);
    assert.ok(doc.paths['/files/{id}'].delete.responses['204']);
    assert.deepEqual(doc.paths['/files/'].options.security, []);
    assert.deepEqual(doc.paths['/files/{id}'].patch.security, [{ bearer: [] }]);
    assert.ok(doc.paths['/readyz'].get.responses['200'] && doc.paths['/healthz'].get.responses['200']);
    assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain']);
    assert.deepEqual(doc.paths['/metrics'].get.security, [], 'open: no METRICS_TOKEN in this server');
    const list = doc.paths['/attachments'].get;
    assert.deepEqual(list.security, [{ bearer: [] }]);
    assert.ok(list.parameters.some((p: any) => p.name === 'page'));
    const listed = list.responses['200'].content['application/json'].schema.properties.body.properties.attachments;
    assert.equal(listed.type, 'array');
    assert.match(listed.items.properties.content_type.description, /audio\/mp4/);
  });

  test('a client generated with openapi-typescript + openapi-fetch type-checks and calls the server', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'trickle-openapi-client-'));
    try {
      await symlink(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'));
      await writeFile(path.join(work, 'package.json'), JSON.stringify({ type: 'module' }));
      await writeFile(path.join(work, 'schema.ts'), astToString(await openapiTS(structuredClone(doc))));
      await writeFile(
        path.join(work, 'call.ts'),
        [
          "import createClient from 'openapi-fetch';",
          "import type { paths } from './schema.js';",
          'const client = createClient<paths>({ baseUrl: process.env.BASE });',
          "const { data, response } = await client.GET('/account', { headers: { authorization: `Bearer ${process.env.TOKEN}` } });",
          "if (!data) throw new Error(`no data: ${response.status}`);",
          '// Typed: a wrong field name here fails the type check.',
          'const username: string = data.body.user.username;',
          'console.log(JSON.stringify({ status: response.status, username }));',
        ].join('\n'),
      );
      const tsc = await node(
        [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', 'call.ts'],
        { cwd: work },
      );
      assert.equal(tsc.code, 0, `the generated client does not type-check:\n${tsc.output}`);
      const user = await newUser(server.url, 'openapi');
      const run = await node(['--import', 'tsx', 'call.ts'], { cwd: work, env: { ...process.env, BASE: server.url, TOKEN: user.token } });
      assert.equal(run.code, 0, run.output);
      assert.deepEqual(JSON.parse(run.stdout), { status: 200, username: user.username });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
