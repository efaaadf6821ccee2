/**
 * Fair open-attachment accounting (SPEC 3.6, 3.9): what counts against MAX_OPEN_ATTACHMENTS is
 * what `GET /attachments` lists, and a tus partial upload consumed by a final concatenation is
 * neither (it is deleted once the final is complete). The real tus-js-client with
 * `parallelUploads: 4` (docs/protocols.md's example) makes 4 partials and a final per file.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tus from 'tus-js-client';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Runs a tus-js-client upload to its end; resolves its URL. */
function tusUpload(file: Buffer, options: ConstructorParameters<typeof tus.Upload>[1]): Promise<string> {
  return new Promise((resolve, reject) => {
    const task = new tus.Upload(file, { ...options, retryDelays: [0, 100, 300], onError: reject, onSuccess: () => resolve(task.url!) });
    task.start();
  });
}

const idOf = (url: string) => Number(/\/files\/(\d+)$/.exec(url)?.[1]);

for (const kind of databaseKinds()) {
  describe(`open attachments on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(kind);
    });
    after(() => server.close());

    test('one user makes 40 tus uploads with parallelUploads: 4 in a row: all succeed, and only the finals count', async () => {
      const alice = await newUser(server.url, 'parallel');
      const headers = { Authorization: `Bearer ${alice.token}` };
      const files: Array<{ id: number; file: Buffer; url: string }> = [];
      for (let index = 0; index < 40; index += 1) {
        const file = randomFile(64 * 1024 + index);
        const url = await tusUpload(file, { endpoint: `${server.url}/files/`, parallelUploads: 4, headers, metadata: { filename: `take-${index}.wav` } }).catch(
          (error: unknown) => assert.fail(`upload ${index + 1} of 40 failed: ${String(error)}`),
        );
        files.push({ id: idOf(url), file, url });
      }
      // What counts is what the list shows: the 40 finals, complete, newest first.
      const listed = (await request(server.url, 'GET', '/attachments?page[items]=150', { token: alice.token })).json.body.attachments;
      assert.deepEqual(
        listed.map((a: { id: number }) => a.id),
        files.map((f) => f.id).reverse(),
      );
      for (const { id, file } of files) {
        const attachment = listed.find((a: { id: number }) => a.id === id);
        assert.deepEqual([attachment.state, attachment.sha1], ['complete', sha1(file)]);
      }
      // Each final's partials are gone.
      const head = await request(server.url, 'HEAD', new URL(files[0]!.url).pathname, { headers: { ...headers, 'tus-resumable': '1.0.0' } });
      const parts = [...(head.headers.get('upload-concat') ?? '').matchAll(/\/files\/(\d+)/g)].map((match) => Number(match[1]));
      assert.equal(parts.length, 4, head.headers.get('upload-concat') ?? 'no Upload-Concat');
      for (const part of parts) assert.equal((await request(server.url, 'GET', `/attachments/${part}`, { token: alice.token })).status, 404);

      // The limit counts the same attachments: 60 more fit (100), the next is refused, in words that fit.
      for (let index = 0; index < 60; index += 1) await createAttachment(server.url, alice.token, 10);
      const refused = await request(server.url, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 10 } } });
      assert.equal(refused.status, 429);
      assert.equal(refused.json.body.error.name, 'too_many_open_attachments');
      assert.match(refused.json.body.error.description, /100 open attachments \(uploading, or complete but not used yet\)/);
      assert.equal((await request(server.url, 'DELETE', `/attachments/${files[0]!.id}`, { token: alice.token })).status, 204);
      assert.equal((await request(server.url, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 10 } } })).status, 201);
    });

    test('GET /attachments: the caller\'s, not used yet, newest first, paged', async () => {
      const bob = await newUser(server.url, 'lister');
      const other = await newUser(server.url, 'other');
      await createAttachment(server.url, other.token, 5);
      // One becomes a clip's audio: used, it is no longer listed (nor counted).
      const tone = await readFile(path.join(import.meta.dirname, '..', 'fixtures', 'tone.wav'));
      const used = await createAttachment(server.url, bob.token, tone.length);
      assert.equal((await putRaw(server.url, bob.token, used, 0, tone)).status, 200);
      const ids: number[] = [];
      for (let index = 0; index < 5; index += 1) ids.push(await createAttachment(server.url, bob.token, 3));
      assert.equal((await putRaw(server.url, bob.token, ids[1]!, 0, Buffer.from('abc'))).json.body.attachment.complete, true);
      const clip = await request(server.url, 'POST', '/audio_clips', { token: bob.token, json: { audio_clip: { title: 't', uploaded_data: { chunked_attachment_id: used } } } });
      assert.equal(clip.status, 201, clip.text);
      const list = (query: string) => request(server.url, 'GET', `/attachments${query}`, { token: bob.token });
      const all = await list('');
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.json.body.attachments.map((a: { id: number }) => a.id),
        [...ids].reverse(),
      );
      assert.deepEqual(Object.keys(all.json.body.attachments[0]).sort(), Object.keys((await request(server.url, 'GET', `/attachments/${ids[0]}`, { token: bob.token })).json.body.attachment).sort());
      assert.equal(all.json.body.attachments.find((a: { id: number }) => a.id === ids[1]).state, 'complete');
      const second = await list('?page[number]=2&page[items]=2');
      assert.deepEqual(
        second.json.body.attachments.map((a: { id: number }) => a.id),
        [ids[2], ids[1]],
      );
      assert.deepEqual((await list('?max_time=0')).json.body.attachments, []);
      assert.equal((await list('?page[items]=151')).status, 400);
      assert.equal((await request(server.url, 'GET', '/attachments')).status, 401);
    });
  });
}
