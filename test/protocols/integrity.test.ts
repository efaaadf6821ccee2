/**
 * Integrity for standard clients (issue 21 item 6, SPEC 7), over raw HTTP on every store:
 * tus `checksum` with sha1 and sha256 (460 and nothing recorded on a mismatch), and the IETF
 * draft's RFC 9530 fields per interop version: Content-Digest checks an append's content,
 * Repr-Digest the whole representation at completion, Want-Repr-Digest brings Repr-Digest back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { randomFile, request } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const MAX = 4 * 1024 * 1024;
const b64 = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('base64');
/** An RFC 9530 dictionary member: `sha-256=:…:` or `sha=:…:`. */
const member = (key: 'sha-256' | 'sha', data: Buffer) => `${key}=:${b64(key === 'sha' ? 'sha1' : 'sha256', data)}:`;

for (const kind of storageKinds()) {
  describe(`integrity digests on ${kind.name}`, { skip: kind.skip }, () => {
    const suite = suiteServer(kind, { maxAttachmentSize: MAX });
    const attachment = async (url: string) => request(suite.base, 'GET', `/attachments/${url.split('/').pop()}`, { token: suite.alice.token });

    describe('tus checksum', () => {
      const tus = () => ({ 'tus-resumable': '1.0.0', authorization: `Bearer ${suite.alice.token}` });
      const patch = (url: string, offset: number, body: Buffer, checksum?: string) =>
        request(suite.base, 'PATCH', url, {
          headers: { ...tus(), 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...(checksum ? { 'upload-checksum': checksum } : {}) },
          raw: body,
        });
      async function upload(length: number): Promise<string> {
        const reply = await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-length': String(length) } });
        assert.equal(reply.status, 201);
        return reply.headers.get('location')!;
      }

      test('OPTIONS advertises sha1 and sha256', async () => {
        const reply = await request(suite.base, 'OPTIONS', '/files/');
        assert.equal(reply.headers.get('tus-checksum-algorithm'), 'sha1,sha256');
      });

      for (const algorithm of ['sha1', 'sha256']) {
        test(`${algorithm}: a match is recorded, a mismatch is 460 and records nothing`, async () => {
          const file = randomFile(300_000);
          const url = await upload(file.length);
          const wrong = await patch(url, 0, file.subarray(0, 100_000), `${algorithm} ${b64(algorithm, file.subarray(1, 100_001))}`);
          assert.equal(wrong.status, 460, wrong.text);
          const untouched = (await attachment(url)).json.body.attachment;
          assert.deepEqual([untouched.received_bytes, untouched.ranges], [0, []]);
          const right = await patch(url, 0, file.subarray(0, 100_000), `${algorithm} ${b64(algorithm, file.subarray(0, 100_000))}`);
          assert.equal(right.status, 204);
          assert.equal(right.headers.get('upload-offset'), '100000');
          // A mismatch after bytes were recorded leaves them as they were.
          assert.equal((await patch(url, 100_000, file.subarray(100_000), `${algorithm} ${b64(algorithm, randomFile(5))}`)).status, 460);
          assert.equal((await attachment(url)).json.body.attachment.received_bytes, 100_000);
          assert.equal((await patch(url, 100_000, file.subarray(100_000), `${algorithm} ${b64(algorithm, file.subarray(100_000))}`)).status, 204);
          assert.equal((await attachment(url)).json.body.attachment.sha1, createHash('sha1').update(file).digest('hex'));
        });
      }

      test('creation-with-upload carries a sha256 checksum; unknown algorithms and malformed digests are 400', async () => {
        const file = randomFile(5000);
        const created = await request(suite.base, 'POST', '/files/', {
          headers: { ...tus(), 'upload-length': '5000', 'content-type': 'application/offset+octet-stream', 'upload-checksum': `sha256 ${b64('sha256', file.subarray(0, 2000))}` },
          raw: file.subarray(0, 2000),
        });
        assert.equal(created.status, 201, created.text);
        assert.equal(created.headers.get('upload-offset'), '2000');
        const url = created.headers.get('location')!;
        for (const checksum of [`md5 ${b64('md5', file)}`, 'sha256 !!!', `sha256 ${b64('sha1', file)}`, `sha1 ${b64('sha1', file)} extra`]) {
          assert.equal((await patch(url, 2000, file.subarray(2000), checksum)).status, 400, checksum);
        }
        assert.equal((await attachment(url)).json.body.attachment.received_bytes, 2000);
      });
    });

    for (const version of [3, 5, 6, 7, 8]) {
      describe(`IETF interop ${version}`, () => {
        const auth = () => ({ authorization: `Bearer ${suite.alice.token}`, 'upload-draft-interop-version': String(version) });
        const complete = (done: boolean): Record<string, string> => (version === 3 ? { 'upload-incomplete': done ? '?0' : '?1' } : { 'upload-complete': done ? '?1' : '?0' });
        const appendType: Record<string, string> = version >= 6 ? { 'content-type': 'application/partial-upload' } : {};
        const create = (headers: Record<string, string>, body?: Buffer) => request(suite.base, 'POST', '/files/', { headers: { ...auth(), ...headers }, ...(body ? { raw: body } : {}) });
        const append = (url: string, offset: number, done: boolean, body: Buffer, headers: Record<string, string> = {}) =>
          request(suite.base, 'PATCH', url, { headers: { ...auth(), ...complete(done), ...appendType, 'upload-offset': String(offset), ...headers }, raw: body });

        test('Content-Digest: a match is appended, a mismatch is 400 and appends nothing; unknown algorithms are ignored', async () => {
          const file = randomFile(200_000);
          const created = await create(complete(false), file.subarray(0, 50_000));
          const url = created.headers.get('location')!;
          const part = file.subarray(50_000, 120_000);
          const wrong = await append(url, 50_000, false, part, { 'content-digest': member('sha-256', randomFile(10)) });
          assert.equal(wrong.status, 400, wrong.text);
          assert.equal((await attachment(url)).json.body.attachment.received_bytes, 50_000);
          // Several algorithms: each known one is checked.
          const mixed = await append(url, 50_000, false, part, { 'content-digest': `${member('sha-256', part)}, ${member('sha', randomFile(3))}` });
          assert.equal(mixed.status, 400);
          const right = await append(url, 50_000, false, part, { 'content-digest': `${member('sha-256', part)}, ${member('sha', part)}, md5=:AAAA:` });
          assert.equal(right.status, 204, right.text);
          assert.equal(right.headers.get('upload-offset'), '120000');
          const unknown = await append(url, 120_000, false, file.subarray(120_000, 130_000), { 'content-digest': 'unixsum=:AAAA:' });
          assert.equal(unknown.status, 204);
          for (const malformed of ['sha-256=abc', 'sha-256=:not base64!:', 'sha-256', ', sha=:AAAA:']) {
            assert.equal((await append(url, 130_000, false, file.subarray(130_000), { 'content-digest': malformed })).status, 400, malformed);
          }
          assert.equal((await attachment(url)).json.body.attachment.received_bytes, 130_000);
        });

        test('Repr-Digest at creation is checked at completion; Want-Repr-Digest brings Repr-Digest back', async () => {
          const file = randomFile(150_000);
          const created = await create({ ...complete(false), 'repr-digest': member('sha-256', file), 'want-repr-digest': 'sha-256=3, sha=9' }, file.subarray(0, 100_000));
          assert.equal(created.status, 201);
          const url = created.headers.get('location')!;
          assert.equal(created.headers.get('repr-digest'), null);
          const last = await append(url, 100_000, true, file.subarray(100_000));
          assert.equal(last.status, 204, last.text);
          // The client preferred SHA-1 (9 over 3).
          assert.equal(last.headers.get('repr-digest'), member('sha', file));
          assert.equal((await attachment(url)).json.body.attachment.state, 'complete');
        });

        test('a Repr-Digest mismatch at completion is 400 from processing (Upload-Complete: ?1) and discards the upload', async () => {
          const file = randomFile(80_000);
          const created = await create(complete(false), file.subarray(0, 30_000));
          const url = created.headers.get('location')!;
          const last = await append(url, 30_000, true, file.subarray(30_000), { 'repr-digest': member('sha-256', randomFile(80_000)) });
          assert.equal(last.status, 400, last.text);
          if (version === 3) assert.equal(last.headers.get('upload-incomplete'), '?0');
          else assert.equal(last.headers.get('upload-complete'), '?1');
          assert.equal((await attachment(url)).status, 404);
        });

        test('creation with the whole representation: Repr-Digest checked (sha), Want-Repr-Digest answered (sha-256)', async () => {
          const file = randomFile(60_000);
          const good = await create({ ...complete(true), 'repr-digest': member('sha', file), 'want-repr-digest': 'sha-256=1' }, file);
          assert.equal(good.status, 201, good.text);
          assert.equal(good.headers.get('repr-digest'), member('sha-256', file));
          const bad = await create({ ...complete(true), 'repr-digest': member('sha', randomFile(60_000)) }, file);
          assert.equal(bad.status, 400);
          // Content-Digest of the creation's content, and a malformed Want-Repr-Digest.
          assert.equal((await create({ ...complete(true), 'content-digest': member('sha-256', randomFile(9)) }, file)).status, 400);
          assert.equal((await create({ ...complete(true), 'want-repr-digest': 'sha-256=:AAAA:' }, file)).status, 400);
        });
      });
    }
  });
}
