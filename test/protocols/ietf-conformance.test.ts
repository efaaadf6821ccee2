/**
 * The IETF resumable-upload draft as drafts -06 to -11 (interop 7 and 8) word it, over raw
 * HTTP (issue 22 item 8): structured fields that do not parse are 400 and change nothing; an
 * append to a completed upload is refused and changes nothing; the 409 for a mismatching
 * offset names both offsets; every answer to an append or creation that did not complete the
 * upload says Upload-Complete: ?0, errors included.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { randomFile, request, sha1 } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const MAX = 1024 * 1024;

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request over node:http, so that header values fetch would refuse (empty ones) can be sent. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const kind of databaseKinds()) {
  describe(`IETF draft conformance (interop 7 and 8) on ${kind.name}`, { skip: kind.skip }, () => {
    const suite = suiteServer(kind, { maxAttachmentSize: MAX });

    const auth = (version: number) => ({ authorization: `Bearer ${suite.alice.token}`, 'upload-draft-interop-version': String(version) });
    const append = (version: number, offset: number | string, complete: string | null) => ({
      ...auth(version),
      'content-type': 'application/partial-upload',
      'upload-offset': String(offset),
      ...(complete === null ? {} : { 'upload-complete': complete }),
    });
    const attachment = async (location: string) => (await request(suite.base, 'GET', `/attachments/${location.split('/').pop()}`, { token: suite.alice.token })).json.body.attachment;
    async function started(version: number, first: Buffer, extra: Record<string, string> = {}): Promise<string> {
      const created = await send(suite.base, 'POST', '/files/', { ...auth(version), 'upload-complete': '?0', ...extra }, first);
      assert.equal(created.status, 201, created.body);
      return String(created.headers.location);
    }

    for (const version of [7, 8]) {
      describe(`interop ${version}`, () => {
        test('Upload-Complete other than ?0/?1 is 400 on appends and creations, and nothing is recorded', async () => {
          const url = await started(version, randomFile(100));
          for (const value of ['?2', '1', 'true', '', '?1, ?0', '"?1"', '?1;']) {
            const reply = await send(suite.base, 'PATCH', url, append(version, 100, value), randomFile(10));
            assert.equal(reply.status, 400, `Upload-Complete: ${JSON.stringify(value)} → ${reply.status}`);
            assert.equal(reply.headers['upload-complete'], '?0', `Upload-Complete: ${JSON.stringify(value)}`);
            const creation = await send(suite.base, 'POST', '/files/', { ...auth(version), 'upload-complete': value }, randomFile(10));
            assert.equal(creation.status, 400, `creation with Upload-Complete: ${JSON.stringify(value)}`);
          }
          const a = await attachment(url);
          assert.equal(a.received_bytes, 100);
          assert.equal(a.state, 'uploading');
          // A Boolean with parameters is still a Boolean.
          assert.equal((await send(suite.base, 'PATCH', url, append(version, 100, '?0;client=x'), randomFile(10))).status, 204);
        });

        test('an append must say Upload-Complete; malformed Upload-Offset and Upload-Length are 400', async () => {
          const url = await started(version, randomFile(50));
          const missing = await send(suite.base, 'PATCH', url, append(version, 50, null), randomFile(10));
          assert.equal(missing.status, 400);
          assert.equal(missing.headers['upload-complete'], '?0');
          for (const offset of ['50.0', '-50', 'fifty', '50, 50', '', '"50"']) {
            assert.equal((await send(suite.base, 'PATCH', url, append(version, offset, '?0'), randomFile(10))).status, 400, `Upload-Offset: ${JSON.stringify(offset)}`);
          }
          assert.equal((await send(suite.base, 'PATCH', url, { ...append(version, 50, '?0'), 'upload-length': '1e3' }, randomFile(10))).status, 400);
          assert.equal((await send(suite.base, 'POST', '/files/', { ...auth(version), 'upload-complete': '?0', 'upload-length': '-5' })).status, 400);
          assert.equal((await attachment(url)).received_bytes, 50);
          // A valid Integer with a parameter is an Integer.
          assert.equal((await send(suite.base, 'PATCH', url, append(version, '50;x=1', '?0'), randomFile(10))).status, 204);
        });

        test('an append to a completed upload is refused and changes nothing, also an empty one that says ?1', async () => {
          const file = randomFile(3000);
          const url = await started(version, file.subarray(0, 1000));
          assert.equal((await send(suite.base, 'PATCH', url, append(version, 1000, '?1'), file.subarray(1000))).status, 204);
          const done = await attachment(url);
          assert.equal(done.state, 'complete');
          const more = await send(suite.base, 'PATCH', url, append(version, 3000, '?1'), randomFile(10));
          assert.equal(more.status, 400);
          assert.equal(more.headers['upload-complete'], '?0');
          // Drafts -10/-11 (interop 8): an inconsistent length; drafts -06 to -09: a completed upload.
          assert.match(JSON.parse(more.body).type, version >= 8 ? /#inconsistent-upload-length$/ : /#completed-upload$/);
          const empty = await send(suite.base, 'PATCH', url, append(version, 3000, '?1'), Buffer.alloc(0));
          assert.equal(empty.status, 400);
          assert.match(JSON.parse(empty.body).type, /#completed-upload$/);
          assert.equal(empty.headers['upload-complete'], '?0');
          const emptyIncomplete = await send(suite.base, 'PATCH', url, append(version, 3000, '?0'), Buffer.alloc(0));
          assert.equal(emptyIncomplete.status, 400);
          const after = await attachment(url);
          assert.deepEqual([after.state, after.size, after.sha1, after.ranges], ['complete', 3000, sha1(file), [[0, 3000]]]);
          // The state is still there to read.
          const head = await send(suite.base, 'HEAD', url, auth(version));
          assert.deepEqual([head.status, head.headers['upload-complete'], head.headers['upload-offset']], [204, '?1', '3000']);
        });

        test('409 for a mismatching offset: problem details with expected-offset and provided-offset, Upload-Complete: ?0', async () => {
          const url = await started(version, randomFile(700));
          const wrong = await send(suite.base, 'PATCH', url, append(version, 1234, '?0'), randomFile(10));
          assert.equal(wrong.status, 409);
          assert.equal(wrong.headers['upload-offset'], '700');
          assert.equal(wrong.headers['upload-complete'], '?0');
          assert.match(String(wrong.headers['content-type']), /^application\/problem\+json/);
          const problem = JSON.parse(wrong.body);
          assert.equal(problem.type, 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset');
          assert.equal(problem['expected-offset'], 700);
          assert.equal(problem['provided-offset'], 1234);
        });

        test('every answer to an append that did not complete the upload says Upload-Complete: ?0, errors included', async () => {
          const url = await started(version, randomFile(10), { 'upload-length': '20' });
          const answers: Array<[string, RawReply]> = [
            ['413 past the length', await send(suite.base, 'PATCH', url, append(version, 10, '?0'), randomFile(11))],
            ['415 without application/partial-upload', await send(suite.base, 'PATCH', url, { ...append(version, 10, '?0'), 'content-type': 'application/octet-stream' }, randomFile(5))],
            ['404 unknown upload', await send(suite.base, 'PATCH', '/files/999999', append(version, 0, '?0'), randomFile(5))],
            ['401 without a token', await send(suite.base, 'PATCH', url, { ...append(version, 10, '?0'), authorization: 'Bearer nope' }, randomFile(5))],
            ['400 inconsistent length', await send(suite.base, 'PATCH', url, append(version, 10, '?1'), randomFile(5))],
            ['413 creation past max-size', await send(suite.base, 'POST', '/files/', { ...auth(version), 'upload-complete': '?0', 'upload-length': String(MAX + 1) })],
            ['204 append', await send(suite.base, 'PATCH', url, append(version, 10, '?0'), randomFile(5))],
          ];
          const expected = [413, 415, 404, 401, 400, 413, 204];
          answers.forEach(([what, reply], i) => {
            assert.equal(reply.status, expected[i], what);
            assert.equal(reply.headers['upload-complete'], '?0', what);
          });
          const last = await send(suite.base, 'PATCH', url, append(version, 15, '?1'), randomFile(5));
          assert.equal(last.status, 204);
          assert.equal(last.headers['upload-complete'], '?1');
        });
      });
    }
  });
}
