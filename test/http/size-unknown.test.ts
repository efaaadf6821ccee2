/**
 * SPEC 3.8: attachments whose size is not known at the start (uploading while recording),
 * every rule over real HTTP, on every database kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { newUser, putMultipart, putRaw, randomFile, request, sha1, type Reply } from '../helpers/client.js';
import { readBlob, startServer, TestClock, type TestServer } from '../helpers/server.js';

const MAX = 1024 * 1024;

function assertError(reply: Reply, status: number, name: string): void {
  assert.equal(reply.status, status, `expected ${status} ${name}, got ${reply.status} ${reply.text}`);
  assert.equal(reply.json?.body?.error?.name, name);
}

for (const kind of storageKinds()) {
  describe(`size unknown at the start on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let alice: { token: string; id: number };
    let bob: { token: string; id: number };
    const clock = new TestClock();

    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: MAX, maxOpenAttachments: 30 }, clock);
      base = server.url;
      alice = await newUser(base, 'alice');
      bob = await newUser(base, 'bob');
    });
    after(() => server.close());

    async function createUnsized(token = alice.token): Promise<number> {
      const reply = await request(base, 'POST', '/attachments', { token, json: { attachment: { filename: 'live.webm' } } });
      assert.equal(reply.status, 201, reply.text);
      return reply.json.body.attachment.id;
    }
    const status = async (id: number) => (await request(base, 'GET', `/attachments/${id}`, { token: alice.token })).json.body.attachment;
    const setSize = (id: number, size: number | string, token = alice.token) =>
      request(base, 'PUT', `/attachments/${id}`, { token, form: { 'attachment[size]': String(size) } });

    test('create without a size: size and outstanding are null, nothing is complete', async () => {
      const reply = await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: {} } });
      assert.equal(reply.status, 201);
      const a = reply.json.body.attachment;
      assert.equal(a.size, null);
      assert.equal(a.outstanding, null);
      assert.equal(a.complete, false);
      assert.equal(a.received, 0);
      assert.deepEqual(a.missing, []);
      assert.equal(a.filename, 'upload');
      await request(base, 'DELETE', `/attachments/${a.id}`, { token: alice.token });
    });

    test('chunks anywhere within the maximum; received is the prefix, missing the gaps below the highest byte', async () => {
      const id = await createUnsized();
      const file = randomFile(5000);
      let a = (await putRaw(base, alice.token, id, 3000, file.subarray(3000, 4000))).json.body.attachment;
      assert.equal(a.received, 0);
      assert.deepEqual(a.ranges, [[3000, 4000]]);
      assert.deepEqual(a.missing, [[0, 3000]]);
      assert.equal(a.complete, false);
      a = (await putMultipart(base, alice.token, id, 0, file.subarray(0, 1000))).json.body.attachment;
      assert.equal(a.received, 1000);
      assert.deepEqual(a.missing, [[1000, 3000]]);
      assert.equal(a.size, null);
      assert.equal(a.outstanding, null);
      // A chunk ending exactly at the maximum is fine; a byte past it is 413 and writes nothing.
      const edge = await putRaw(base, alice.token, id, MAX - 10, randomFile(10));
      assert.equal(edge.status, 200, edge.text);
      assertError(await putRaw(base, alice.token, id, MAX - 10, randomFile(11)), 413, 'attachment_too_large');
      assertError(await putMultipart(base, alice.token, id, MAX - 5, randomFile(6)), 413, 'attachment_too_large');
      assert.deepEqual((await status(id)).ranges, [[0, 1000], [3000, 4000], [MAX - 10, MAX]]);
      await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token });
    });

    test('a PUT with only attachment[size] fixes the size and completes the file when every byte is there', async () => {
      const id = await createUnsized();
      const file = randomFile(4096);
      assert.equal((await putRaw(base, alice.token, id, 0, file.subarray(0, 2048))).status, 200);
      assert.equal((await putRaw(base, alice.token, id, 2048, file.subarray(2048))).status, 200);
      assert.equal((await status(id)).complete, false);
      const fixed = await setSize(id, file.length);
      assert.equal(fixed.status, 200, fixed.text);
      const a = fixed.json.body.attachment;
      assert.equal(a.size, 4096);
      assert.equal(a.outstanding, 0);
      assert.equal(a.complete, true);
      assert.equal(a.state, 'complete');
      assert.equal(a.sha1, sha1(file));
      // The same size again is harmless; JSON and multipart carry it too.
      assert.equal((await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, json: { attachment: { size: 4096 } } })).status, 200);
      assert.equal((await request(base, 'POST', `/attachments/${id}`, { token: alice.token, multipart: [['attachment[size]', '4096']] })).status, 200);
    });

    test('the size may come with the last chunk (query, multipart before or after the file part)', async () => {
      for (const variant of ['raw', 'multipart-before', 'multipart-after'] as const) {
        const id = await createUnsized();
        const file = randomFile(3000);
        await putRaw(base, alice.token, id, 0, file.subarray(0, 2000));
        const last = file.subarray(2000);
        const reply =
          variant === 'raw'
            ? await putRaw(base, alice.token, id, 2000, last, '&attachment%5Bsize%5D=3000')
            : variant === 'multipart-before'
              ? await putMultipart(base, alice.token, id, 2000, last, [['attachment[size]', '3000']])
              : await request(base, 'PUT', `/attachments/${id}`, {
                  token: alice.token,
                  multipart: [['attachment[chunk_offset]', '2000'], ['attachment[chunk]', last, 'c.bin'], ['attachment[size]', '3000']],
                });
        assert.equal(reply.status, 200, `${variant}: ${reply.text}`);
        assert.equal(reply.json.body.attachment.size, 3000);
        assert.equal(reply.json.body.attachment.sha1, sha1(file), variant);
      }
    });

    test('a size below a received byte is 409 size_mismatch with details.received_up_to; nothing changes', async () => {
      const id = await createUnsized();
      await putRaw(base, alice.token, id, 1000, randomFile(500));
      const reply = await setSize(id, 1499);
      assertError(reply, 409, 'size_mismatch');
      assert.equal(reply.json.body.error.details.received_up_to, 1500);
      assert.equal((await status(id)).size, null);
      // A last chunk whose size does not cover what is there is refused the same way, before its bytes.
      const withChunk = await putRaw(base, alice.token, id, 0, randomFile(100), '&attachment%5Bsize%5D=1200');
      assertError(withChunk, 409, 'size_mismatch');
      assert.deepEqual((await status(id)).ranges, [[1000, 1500]]);
      // The size exactly at the highest byte is fine.
      assert.equal((await setSize(id, 1500)).json.body.attachment.size, 1500);
    });

    test('once fixed: another size is 409, a chunk past it 422 chunk_out_of_range, the file is exactly that long', async () => {
      const id = await createUnsized();
      // A chunk that fails its checksum leaves bytes past the coming end in the blob; fixing the size cuts them.
      const junk = await putRaw(base, alice.token, id, 100, randomFile(400), `&attachment%5Bchunk_sha1%5D=${'0'.repeat(40)}`);
      assertError(junk, 422, 'chunk_checksum_mismatch');
      const file = randomFile(200);
      await putRaw(base, alice.token, id, 0, file.subarray(0, 100));
      assert.equal((await setSize(id, 200)).status, 200);
      assertError(await setSize(id, 201), 409, 'size_mismatch');
      assertError(await setSize(id, 199), 409, 'size_mismatch');
      assertError(await putRaw(base, alice.token, id, 150, randomFile(51)), 422, 'chunk_out_of_range');
      assertError(await putRaw(base, alice.token, id, 100, randomFile(100), '&attachment%5Bsize%5D=300'), 409, 'size_mismatch');
      const done = await putRaw(base, alice.token, id, 100, file.subarray(100));
      assert.equal(done.json.body.attachment.sha1, sha1(file));
      const { storageKey } = await server.app.services.attachments.getOwned(alice.id, id);
      assert.ok((await readBlob(server, storageKey)).equals(file), 'the stored file is exactly the fixed size');
    });

    test('a size above the maximum is 413; a bad size is 400', async () => {
      const id = await createUnsized();
      assertError(await setSize(id, MAX + 1), 413, 'attachment_too_large');
      assertError(await setSize(id, 0), 400, 'invalid_parameter');
      assertError(await setSize(id, '12abc'), 400, 'invalid_parameter');
      assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, form: {} }), 400, 'missing_parameter');
      await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token });
    });

    test("another user's unsized attachment is 404 to every call", async () => {
      const id = await createUnsized();
      assertError(await setSize(id, 10, bob.token), 404, 'not_found');
      assertError(await putRaw(base, bob.token, id, 0, randomFile(10)), 404, 'not_found');
      assertError(await request(base, 'GET', `/attachments/${id}`, { token: bob.token }), 404, 'not_found');
      await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token });
    });

    test('parallel chunks while the size is fixed lose nothing; the finished file is byte-exact', async () => {
      const id = await createUnsized();
      const file = randomFile(64 * 1024);
      const piece = 4096;
      const sends = [];
      for (let offset = 0; offset < file.length; offset += piece) sends.push(putRaw(base, alice.token, id, offset, file.subarray(offset, offset + piece)));
      const replies = await Promise.all(sends);
      for (const reply of replies) assert.equal(reply.status, 200, reply.text);
      const fixed = await setSize(id, file.length);
      assert.equal(fixed.json.body.attachment.sha1, sha1(file));
    });

    test('an incomplete unsized attachment cannot be used; a complete one can', async () => {
      const id = await createUnsized();
      await putRaw(base, alice.token, id, 10, randomFile(10));
      const reply = await request(base, 'POST', '/audio_clips', {
        token: alice.token,
        json: { audio_clip: { title: 't', uploaded_data: { chunked_attachment_id: id } } },
      });
      assertError(reply, 422, 'attachment_incomplete');
      assert.deepEqual(reply.json.body.error.details.missing, [[0, 10]]);
      await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token });
    });

    test('unsized attachments count towards the open limit and expire like others', async () => {
      const user = await newUser(base, 'limit');
      const ids = [];
      for (let i = 0; i < 30; i += 1) ids.push((await request(base, 'POST', '/attachments', { token: user.token, json: { attachment: {} } })).json.body.attachment.id);
      assertError(await request(base, 'POST', '/attachments', { token: user.token, json: { attachment: {} } }), 429, 'too_many_open_attachments');
      await putRaw(base, user.token, ids[0]!, 0, randomFile(10));
      clock.advance(server.config.attachmentIdleTimeoutSeconds * 1000 + 1000);
      const removed = await server.app.services.attachments.sweepExpired();
      assert.ok(removed >= 30, `swept ${removed}`);
      assertError(await request(base, 'GET', `/attachments/${ids[0]}`, { token: user.token }), 404, 'not_found');
    });

    test('GET /account advertises trickle and parallel', async () => {
      const reply = await request(base, 'GET', '/account', { token: alice.token });
      assert.equal(reply.json.body.user.limits.trickle, true);
      assert.equal(reply.json.body.user.limits.parallel, true);
    });
  });
}
