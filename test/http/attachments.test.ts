/**
 * SPEC 3.1-3.6 over real HTTP, on every database kind.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putMultipart, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { blobKeys, readBlob, startServer, TestClock, type TestServer } from '../helpers/server.js';

const STATUS_FIELDS = ['id', 'filename', 'content_type', 'size', 'received', 'outstanding', 'complete', 'received_bytes', 'ranges', 'missing', 'state', 'sha1', 'used_by', 'expires_at', 'created_at'];

function assertError(reply: { status: number; json: any }, status: number, name: string): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(reply.status, status, `expected ${status} ${name}, got ${reply.status} ${JSON.stringify(reply.json)}`);
  assert.equal(reply.json?.body?.error?.name, name);
  assert.equal(typeof reply.json.body.error.code, 'number');
  assert.equal(typeof reply.json.body.error.description, 'string');
  assert.equal(reply.json.version, 200);
}

for (const kind of storageKinds()) {
  describe(`attachments on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let alice: { token: string; id: number };
    let bob: { token: string; id: number };

    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: 10 * 1024 * 1024 });
      base = server.url;
      alice = await newUser(base, 'alice');
      bob = await newUser(base, 'bob');
    });
    after(() => server.close());

    describe('create', () => {
      test('JSON: 201, Location, every status field, envelope', async () => {
        const reply = await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 1000, filename: 'voice.flac' } } });
        assert.equal(reply.status, 201);
        const a = reply.json.body.attachment;
        assert.equal(reply.headers.get('location'), `/attachments/${a.id}`);
        assert.deepEqual(Object.keys(a).sort(), [...STATUS_FIELDS].sort());
        assert.equal(reply.json.version, 200);
        assert.equal(reply.json.window, 60);
        assert.ok(Math.abs(reply.json.timestamp - Date.now() / 1000) < 60);
        assert.equal(a.filename, 'voice.flac');
        assert.equal(a.size, 1000);
        assert.equal(a.received, 0);
        assert.equal(a.outstanding, 1000);
        assert.equal(a.complete, false);
        assert.deepEqual(a.ranges, []);
        assert.deepEqual(a.missing, [[0, 1000]]);
        assert.equal(a.state, 'uploading');
        assert.equal(a.sha1, null);
        assert.equal(a.used_by, null);
        assert.ok(Date.parse(a.expires_at) > Date.now() + 23 * 3600 * 1000);
        assert.match(a.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        const status = await request(base, 'GET', `/attachments/${a.id}`, { token: alice.token });
        assert.equal(status.status, 200);
        assert.deepEqual(status.json.body.attachment, a);
      });

      test('form, query string and multipart fields all work; strings are integers; unknown params are ignored', async () => {
        const form = await request(base, 'POST', '/attachments', { token: alice.token, form: { 'attachment[size]': '77', 'attachment[filename]': 'a.mp3', extra: 'x', 'attachment[legacy]': 'y' } });
        assert.equal(form.status, 201);
        assert.equal(form.json.body.attachment.size, 77);
        const query = await request(base, 'POST', '/attachments?attachment%5Bsize%5D=78', { token: alice.token });
        assert.equal(query.status, 201);
        assert.equal(query.json.body.attachment.size, 78);
        assert.equal(query.json.body.attachment.filename, 'upload');
        const multi = await request(base, 'POST', '/attachments', { token: alice.token, multipart: [['attachment[size]', '79']] });
        assert.equal(multi.status, 201);
        assert.equal(multi.json.body.attachment.size, 79);
        // Body wins over the query string.
        const both = await request(base, 'POST', '/attachments?attachment%5Bsize%5D=5', { token: alice.token, json: { attachment: { size: '80' } } });
        assert.equal(both.json.body.attachment.size, 80);
      });

      test('with a first chunk: multipart (fields first or last) and raw', async () => {
        const file = randomFile(5000);
        const streamed = await request(base, 'POST', '/attachments', {
          token: alice.token,
          multipart: [['attachment[size]', '5000'], ['attachment[chunk_offset]', '1000'], ['attachment[chunk]', file.subarray(1000, 3000), 'rec.wav']],
        });
        assert.equal(streamed.status, 201);
        assert.deepEqual(streamed.json.body.attachment.ranges, [[1000, 3000]]);
        assert.equal(streamed.json.body.attachment.filename, 'rec.wav');
        assert.equal(streamed.json.body.attachment.received, 0);
        const staged = await request(base, 'POST', '/attachments', {
          token: alice.token,
          multipart: [['attachment[chunk]', file.subarray(0, 2000), 'x.bin'], ['attachment[size]', '5000'], ['attachment[filename]', 'named.ogg']],
        });
        assert.equal(staged.status, 201);
        assert.deepEqual(staged.json.body.attachment.ranges, [[0, 2000]]);
        assert.equal(staged.json.body.attachment.received, 2000);
        assert.equal(staged.json.body.attachment.filename, 'named.ogg');
        const raw = await request(base, 'POST', '/attachments?attachment%5Bsize%5D=5000&attachment%5Bchunk_offset%5D=4000', { token: alice.token, raw: file.subarray(4000) });
        assert.equal(raw.status, 201);
        assert.deepEqual(raw.json.body.attachment.ranges, [[4000, 5000]]);
        // The staged and streamed chunks landed where they belong.
        const id = staged.json.body.attachment.id;
        const done = await putRaw(base, alice.token, id, 2000, file.subarray(2000));
        assert.equal(done.json.body.attachment.sha1, sha1(file));
      });

      test('bad sizes: malformed, zero, too large (a missing size is SPEC 3.8, see size-unknown.test.ts)', async () => {
        for (const size of ['1e3', '12abc', '', '-1', '0', 0, -5, 1.5, '0x10', ' 12', true, [3], { a: 1 }, '99999999999999999999']) {
          const reply = await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: { size } } });
          assertError(reply, 400, 'invalid_parameter');
          assert.equal(reply.json.body.error.details.parameter, 'attachment[size]', JSON.stringify(size));
        }
        assertError(await request(base, 'POST', '/attachments', { token: alice.token, form: { 'attachment[size]': '1e3' } }), 400, 'invalid_parameter');
        const tooLarge = await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 10 * 1024 * 1024 + 1 } } });
        assertError(tooLarge, 413, 'attachment_too_large');
        assert.equal(tooLarge.json.body.error.details.max_size, 10 * 1024 * 1024);
      });

      test('a first chunk that does not fit, or fails its checksum, leaves nothing behind', async () => {
        const before = await blobKeys(server);
        const outside = await request(base, 'POST', '/attachments', {
          token: alice.token,
          multipart: [['attachment[size]', '10'], ['attachment[chunk_offset]', '5'], ['attachment[chunk]', randomFile(6), 'c']],
        });
        assertError(outside, 422, 'chunk_out_of_range');
        const rawOutside = await request(base, 'POST', '/attachments?attachment%5Bsize%5D=10', { token: alice.token, raw: randomFile(11) });
        assertError(rawOutside, 422, 'chunk_out_of_range');
        const badSum = await request(base, 'POST', '/attachments', {
          token: alice.token,
          multipart: [['attachment[size]', '10'], ['attachment[chunk_offset]', '0'], ['attachment[chunk_sha1]', sha1(Buffer.from('other'))], ['attachment[chunk]', randomFile(4), 'c']],
        });
        assertError(badSum, 422, 'chunk_checksum_mismatch');
        assert.deepEqual(await blobKeys(server), before);
      });

      test('malformed bodies and unsupported content types', async () => {
        assertError(await request(base, 'POST', '/attachments', { token: alice.token, json: '{"attachment": {"size": 1' }), 400, 'malformed_body');
        assertError(await request(base, 'POST', '/attachments', { token: alice.token, json: '{"__proto__": {"x": 1}}' }), 400, 'malformed_body');
        assertError(
          await request(base, 'POST', '/attachments', { token: alice.token, raw: Buffer.from('--x\r\nbroken'), headers: { 'content-type': 'multipart/form-data; boundary=x' } }),
          400,
          'malformed_body',
        );
        assertError(
          await request(base, 'POST', '/attachments', { token: alice.token, raw: Buffer.from('abc'), headers: { 'content-type': 'multipart/form-data' } }),
          400,
          'malformed_body',
        );
        assertError(await request(base, 'POST', '/attachments', { token: alice.token, raw: Buffer.from('<a/>'), headers: { 'content-type': 'text/xml' } }), 415, 'unsupported_media_type');
        const deep = await request(base, 'POST', '/attachments?' + 'a' + '[b]'.repeat(40) + '=1', { token: alice.token });
        assert.ok(deep.status === 400, `deep nesting answered ${deep.status}`);
      });

      test('authentication: none is 401 authentication_required, a bad token 401 invalid_token', async () => {
        assertError(await request(base, 'POST', '/attachments', { json: { attachment: { size: 5 } } }), 401, 'authentication_required');
        assertError(await request(base, 'POST', '/attachments', { token: 'nope', json: { attachment: { size: 5 } } }), 401, 'invalid_token');
        assertError(await request(base, 'GET', '/attachments/1', { headers: { authorization: 'Basic abc' } }), 401, 'invalid_token');
      });
    });

    describe('chunks', () => {
      test('any order, overlapping and repeated, raw, multipart and the POST alias: exact file and SHA1', async () => {
        const file = randomFile(100_000);
        const id = await createAttachment(base, alice.token, file.length);
        const r1 = await putRaw(base, alice.token, id, 60_000, file.subarray(60_000, 100_000));
        assert.equal(r1.status, 200);
        assert.equal(r1.json.body.attachment.received, 0);
        assert.equal(r1.json.body.attachment.received_bytes, 40_000);
        assert.deepEqual(r1.json.body.attachment.missing, [[0, 60_000]]);
        const r2 = await putMultipart(base, alice.token, id, 0, file.subarray(0, 30_000));
        assert.equal(r2.status, 200);
        assert.equal(r2.json.body.attachment.received, 30_000);
        assert.equal(r2.json.body.attachment.outstanding, 30_000);
        // Overlap on both sides, through the POST alias.
        const r3 = await request(base, 'POST', `/attachments/${id}`, {
          token: alice.token,
          multipart: [['attachment[chunk_offset]', '20000'], ['attachment[chunk]', file.subarray(20_000, 50_000), 'c']],
        });
        assert.equal(r3.status, 200);
        assert.deepEqual(r3.json.body.attachment.ranges, [[0, 50_000], [60_000, 100_000]]);
        assert.equal(r3.json.body.attachment.complete, false);
        assert.equal(r3.json.body.attachment.sha1, null);
        const r4 = await putRaw(base, alice.token, id, 45_000, file.subarray(45_000, 65_000));
        const a = r4.json.body.attachment;
        assert.equal(a.complete, true);
        assert.equal(a.state, 'complete');
        assert.equal(a.received, 100_000);
        assert.equal(a.outstanding, 0);
        assert.deepEqual(a.missing, []);
        assert.equal(a.sha1, sha1(file));
        const stored = await readBlob(server, (await server.app.services.attachments.getOwned(alice.id, id)).storageKey);
        assert.ok(stored.equals(file));
      });

      test('a retried chunk on a complete attachment answers 200; different bytes are refused', async () => {
        const file = randomFile(3000);
        const id = await createAttachment(base, alice.token, file.length);
        await putRaw(base, alice.token, id, 0, file.subarray(0, 2000));
        const done = await putRaw(base, alice.token, id, 2000, file.subarray(2000));
        assert.equal(done.json.body.attachment.state, 'complete');
        const retry = await putRaw(base, alice.token, id, 2000, file.subarray(2000));
        assert.equal(retry.status, 200);
        assert.equal(retry.json.body.attachment.sha1, sha1(file));
        const changed = Buffer.from(file.subarray(1000, 2000));
        changed[10] = changed[10]! ^ 0xff;
        assertError(await putRaw(base, alice.token, id, 1000, changed), 409, 'attachment_complete');
        const after = await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        assert.equal(after.json.body.attachment.sha1, sha1(file));
      });

      test('bytes replaced by different ones after they were hashed: the SHA1 is of the bytes as they end up', async () => {
        const first = randomFile(600_000);
        const id = await createAttachment(base, alice.token, first.length);
        assert.equal((await putRaw(base, alice.token, id, 0, first.subarray(0, 400_000))).status, 200);
        // Give the running hash time to pass the region that is about to change.
        for (let i = 0; i < 5; i += 1) await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        const replacement = randomFile(50_000);
        assert.equal((await putRaw(base, alice.token, id, 100_000, replacement)).status, 200);
        const done = await putRaw(base, alice.token, id, 400_000, first.subarray(400_000));
        const expected = Buffer.concat([first.subarray(0, 100_000), replacement, first.subarray(150_000)]);
        assert.equal(done.json.body.attachment.state, 'complete');
        assert.equal(done.json.body.attachment.sha1, sha1(expected));
        assert.ok((await readBlob(server, (await server.app.services.attachments.getOwned(alice.id, id)).storageKey)).equals(expected));
      });

      test('chunk_sha1: a match is recorded; a mismatch records nothing and changes no received byte', async () => {
        const file = randomFile(4000);
        const id = await createAttachment(base, alice.token, file.length);
        const ok = await putMultipart(base, alice.token, id, 0, file.subarray(0, 2000), [['attachment[chunk_sha1]', sha1(file.subarray(0, 2000)).toUpperCase()]]);
        assert.equal(ok.status, 200);
        assert.deepEqual(ok.json.body.attachment.ranges, [[0, 2000]]);
        // Garbage over received bytes and new bytes, with a checksum of other data.
        const garbage = randomFile(3000);
        const bad = await putRaw(base, alice.token, id, 1000, garbage, `&attachment%5Bchunk_sha1%5D=${sha1(file)}`);
        assertError(bad, 422, 'chunk_checksum_mismatch');
        assert.equal(bad.json.body.error.details.actual, sha1(garbage));
        // The checksum may also follow the file part.
        const late = await request(base, 'PUT', `/attachments/${id}`, {
          token: alice.token,
          multipart: [['attachment[chunk_offset]', '500'], ['attachment[chunk]', garbage.subarray(0, 1000), 'c'], ['attachment[chunk_sha1]', sha1(file.subarray(500, 1500))]],
        });
        assertError(late, 422, 'chunk_checksum_mismatch');
        const status = await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        assert.deepEqual(status.json.body.attachment.ranges, [[0, 2000]]);
        const done = await putRaw(base, alice.token, id, 2000, file.subarray(2000), `&attachment%5Bchunk_sha1%5D=${sha1(file.subarray(2000))}`);
        assert.equal(done.json.body.attachment.sha1, sha1(file));
        assertError(await putRaw(base, alice.token, id, 0, file.subarray(0, 10), '&attachment%5Bchunk_sha1%5D=xyz'), 400, 'invalid_parameter');
      });

      test('out of range, size mismatch, missing and malformed parameters', async () => {
        const id = await createAttachment(base, alice.token, 1000);
        assertError(await putRaw(base, alice.token, id, 900, randomFile(101)), 422, 'chunk_out_of_range');
        assertError(await putRaw(base, alice.token, id, 1000, randomFile(1)), 422, 'chunk_out_of_range');
        assertError(await putMultipart(base, alice.token, id, 500, randomFile(501)), 422, 'chunk_out_of_range');
        assertError(await putMultipart(base, alice.token, id, 5000, randomFile(1)), 422, 'chunk_out_of_range');
        assertError(await putRaw(base, alice.token, id, 0, randomFile(10), '&attachment%5Bsize%5D=999'), 409, 'size_mismatch');
        assertError(await putMultipart(base, alice.token, id, 0, randomFile(10), [['attachment[size]', '1001']]), 409, 'size_mismatch');
        const sameSize = await putMultipart(base, alice.token, id, 0, randomFile(10), [['attachment[size]', '1000']]);
        assert.equal(sameSize.status, 200);
        assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, raw: randomFile(10) }), 400, 'missing_parameter');
        assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, json: { attachment: { chunk_offset: 0 } } }), 400, 'missing_parameter');
        assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, multipart: [['attachment[chunk_offset]', '0']] }), 400, 'missing_parameter');
        assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, multipart: [['attachment[chunk]', randomFile(5), 'c']] }), 400, 'missing_parameter');
        assertError(await putMultipart(base, alice.token, id, -1, randomFile(5)), 400, 'invalid_parameter');
        // A text field where the chunk's file part belongs.
        assertError(await request(base, 'PUT', `/attachments/${id}`, { token: alice.token, form: { 'attachment[chunk_offset]': '0', 'attachment[chunk]': 'text' } }), 400, 'invalid_parameter');
        assertError(await request(base, 'POST', '/attachments', { token: alice.token, json: { attachment: { size: 5, chunk: 'text' } } }), 400, 'invalid_parameter');
        assertError(await request(base, 'PUT', `/attachments/${id}?attachment%5Bchunk_offset%5D=12abc`, { token: alice.token, raw: randomFile(5) }), 400, 'invalid_parameter');
        assertError(await putRaw(base, alice.token, id, 0, Buffer.alloc(0)), 400, 'invalid_parameter');
        assertError(await putMultipart(base, alice.token, id, 0, Buffer.alloc(0)), 400, 'invalid_parameter');
        const status = await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        assert.deepEqual(status.json.body.attachment.ranges, [[0, 10]]);
      });

      test('only the creator sees or changes an attachment; ids that name nothing are 404', async () => {
        const id = await createAttachment(base, alice.token, 100);
        assertError(await request(base, 'GET', `/attachments/${id}`, { token: bob.token }), 404, 'not_found');
        assertError(await putRaw(base, bob.token, id, 0, randomFile(10)), 404, 'not_found');
        assertError(await putMultipart(base, bob.token, id, 0, randomFile(10)), 404, 'not_found');
        assertError(await request(base, 'DELETE', `/attachments/${id}`, { token: bob.token }), 404, 'not_found');
        assertError(await request(base, 'GET', `/attachments/${id}`), 401, 'authentication_required');
        for (const bad of ['abc', '0', '-1', '1.5', '99999999', '1e3', '%00']) {
          assertError(await request(base, 'GET', `/attachments/${bad}`, { token: alice.token }), 404, 'not_found');
        }
        const untouched = await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        assert.deepEqual(untouched.json.body.attachment.ranges, []);
      });

      test('DELETE aborts: 204, the record and the data are gone', async () => {
        const before = await blobKeys(server);
        const id = await createAttachment(base, alice.token, 100);
        await putRaw(base, alice.token, id, 0, randomFile(50));
        assert.ok((await blobKeys(server)).length > before.length, 'the chunk is stored');
        const deleted = await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token });
        assert.equal(deleted.status, 204);
        assert.equal(deleted.text, '');
        assertError(await request(base, 'GET', `/attachments/${id}`, { token: alice.token }), 404, 'not_found');
        assertError(await putRaw(base, alice.token, id, 50, randomFile(50)), 404, 'not_found');
        assert.deepEqual(await blobKeys(server), before);
      });

      test('many chunks in parallel on one attachment never lose a range', async () => {
        const file = randomFile(256 * 1024);
        const id = await createAttachment(base, alice.token, file.length);
        const chunk = 8 * 1024;
        const offsets = Array.from({ length: file.length / chunk }, (_, i) => i * chunk).sort(() => Math.random() - 0.5);
        const replies = await Promise.all(
          offsets.map((offset, i) =>
            i % 2 === 0
              ? putRaw(base, alice.token, id, offset, file.subarray(offset, offset + chunk + 100))
              : putMultipart(base, alice.token, id, offset, file.subarray(offset, offset + chunk)),
          ),
        );
        for (const reply of replies) assert.equal(reply.status, 200, reply.text);
        const status = await request(base, 'GET', `/attachments/${id}`, { token: alice.token });
        assert.deepEqual(status.json.body.attachment.ranges, [[0, file.length]]);
        assert.equal(status.json.body.attachment.sha1, sha1(file));
        assert.equal(status.json.body.attachment.state, 'complete');
      });

      test('an attachment recorded whole but never completed (a crash in between) completes when seen', { skip: kind.storage && 'writes the upload file in place' }, async () => {
        const file = randomFile(50_000);
        const { db } = server.app.services.database;
        const stuck = async () => {
          const id = await createAttachment(base, alice.token, file.length);
          await putRaw(base, alice.token, id, 0, file.subarray(0, 40_000));
          // What a kill right after the last range's commit leaves: bytes and ranges, no completion.
          const record = await server.app.services.attachments.getOwned(alice.id, id);
          const handle = await open(path.join(server.dataDir, 'blobs', record.storageKey), 'r+');
          await handle.write(file.subarray(40_000), 0, 10_000, 40_000);
          await handle.close();
          await db.updateTable('attachments').set({ ranges: JSON.stringify([[0, file.length]]), received_bytes: file.length }).where('id', '=', id).execute();
          return id;
        };
        const seen = await stuck();
        const status = (await request(base, 'GET', `/attachments/${seen}`, { token: alice.token })).json.body.attachment;
        assert.equal(status.state, 'complete');
        assert.equal(status.sha1, sha1(file));
        const swept = await stuck();
        assert.ok((await server.app.services.attachments.completeStragglers()) >= 1);
        const record = await server.app.services.attachments.getOwned(alice.id, swept);
        assert.equal(record.state, 'complete');
        assert.equal(record.sha1, sha1(file));
      });

      test('405 for other methods on known paths, 404 envelope for unknown ones', async () => {
        const patch = await request(base, 'PATCH', '/attachments/1', { token: alice.token });
        assertError(patch, 405, 'method_not_allowed');
        assert.match(patch.headers.get('allow') ?? '', /PUT/);
        assertError(await request(base, 'DELETE', '/attachments', { token: alice.token }), 405, 'method_not_allowed');
        assertError(await request(base, 'GET', '/nothing/here'), 404, 'not_found');
      });
    });
  });
}

// Limits need servers of their own, configured tight.
for (const kind of storageKinds()) {
  describe(`attachment limits on ${kind.name}`, { skip: kind.skip }, () => {
    test('open attachments per user answer 429; finishing or deleting one frees a place', async () => {
      const server = await startServer(kind, { maxOpenAttachments: 2 });
      try {
        const { token } = await newUser(server.url, 'limit');
        const first = await createAttachment(server.url, token, 10);
        await createAttachment(server.url, token, 10);
        const third = await request(server.url, 'POST', '/attachments', { token, json: { attachment: { size: 10 } } });
        assertError(third, 429, 'too_many_open_attachments');
        assert.equal((await request(server.url, 'DELETE', `/attachments/${first}`, { token })).status, 204);
        assert.equal((await request(server.url, 'POST', '/attachments', { token, json: { attachment: { size: 10 } } })).status, 201);
        // Another user has their own allowance.
        const other = await newUser(server.url, 'limit');
        assert.equal((await request(server.url, 'POST', '/attachments', { token: other.token, json: { attachment: { size: 10 } } })).status, 201);
      } finally {
        await server.close();
      }
    });

    test('not enough free disk answers 507', { skip: kind.storage && 'object stores do not tell their free space' }, async () => {
      const server = await startServer(kind, { minFreeBytes: Number.MAX_SAFE_INTEGER - 1 });
      try {
        const { token } = await newUser(server.url, 'disk');
        assertError(await request(server.url, 'POST', '/attachments', { token, json: { attachment: { size: 10 } } }), 507, 'insufficient_storage');
      } finally {
        await server.close();
      }
    });

    test('idle attachments expire: the sweep deletes record and data, but not used or active ones', async () => {
      const clock = new TestClock();
      const server = await startServer(kind, { attachmentIdleTimeoutSeconds: 3600 }, clock);
      try {
        const { token } = await newUser(server.url, 'expire');
        const stale = await createAttachment(server.url, token, 100);
        await putRaw(server.url, token, stale, 0, randomFile(10));
        clock.advance(1800 * 1000);
        const fresh = await createAttachment(server.url, token, 100);
        clock.advance(1800 * 1000 + 1);
        assert.equal(await server.app.services.attachments.sweepExpired(), 1);
        assertError(await request(server.url, 'GET', `/attachments/${stale}`, { token }), 404, 'not_found');
        assert.equal((await request(server.url, 'GET', `/attachments/${fresh}`, { token })).status, 200);
        // A chunk pushes the expiry forward.
        clock.advance(1800 * 1000);
        const touched = await putRaw(server.url, token, fresh, 0, randomFile(10));
        assert.equal(Date.parse(touched.json.body.attachment.expires_at), clock.now() + 3600 * 1000);
        clock.advance(1800 * 1000);
        assert.equal(await server.app.services.attachments.sweepExpired(), 0);
        assert.equal((await blobKeys(server)).length, 1);
      } finally {
        await server.close();
      }
    });
  });
}
