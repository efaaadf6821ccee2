/**
 * IETF Resumable Uploads for HTTP at /files/ on the wire, for each interop version a
 * client ships (3: iOS 17; 5 and 6: iOS 18 and tus-js-client; 8: the newest draft):
 * creation with the 104 interim response, offset retrieval, appending, completion,
 * cancellation, limits, and every status code the draft uses.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MAX = 1024 * 1024;

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  interim: Array<{ status: number; headers: Record<string, string> }>;
}

/** One request over node:http, keeping the 1xx interim responses it receives. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const interim: RawReply['interim'] = [];
    const req = httpRequest(base + path, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } });
    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers as Record<string, string> }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), interim }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers that differ by interop version: completeness, and the append media type. */
function completeness(version: number, complete: boolean): Record<string, string> {
  return version === 3 ? { 'upload-incomplete': complete ? '?0' : '?1' } : { 'upload-complete': complete ? '?1' : '?0' };
}
function readComplete(version: number, headers: IncomingHttpHeaders): boolean | undefined {
  const value = version === 3 ? headers['upload-incomplete'] : headers['upload-complete'];
  if (value === undefined) return undefined;
  return version === 3 ? value === '?0' : value === '?1';
}
const appendType = (version: number): Record<string, string> => (version >= 6 ? { 'content-type': 'application/partial-upload' } : {});

for (const kind of databaseKinds()) {
  describe(`IETF resumable uploads on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let alice: { token: string; id: number };
    let bob: { token: string; id: number };

    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: MAX });
      base = server.url;
      alice = await newUser(base, 'alice');
      bob = await newUser(base, 'bob');
    });
    after(() => server.close());

    const auth = (version: number, token = alice.token) => ({ authorization: `Bearer ${token}`, 'upload-draft-interop-version': String(version) });
    const attachment = async (location: string) => (await request(base, 'GET', `/attachments/${location.split('/').pop()}`, { token: alice.token })).json.body.attachment;

    for (const version of [3, 4, 5, 6, 7, 8]) {
      describe(`interop version ${version}`, () => {
        test('creation with the whole file: 104 with Location first, then 201 complete', async () => {
          const file = randomFile(5000);
          const reply = await send(base, 'POST', '/files/', { ...auth(version), ...completeness(version, true), 'content-type': 'audio/wav', 'content-disposition': 'attachment; filename="take 1.wav"' }, file);
          assert.equal(reply.status, 201, reply.body);
          assert.equal(reply.interim.length, 1);
          const [interim] = reply.interim;
          assert.equal(interim!.status, 104);
          assert.equal(interim!.headers.location, reply.headers.location);
          assert.equal(interim!.headers['upload-draft-interop-version'], String(version));
          assert.match(interim!.headers['upload-limit']!, /max-size=1048576/);
          assert.equal(readComplete(version, reply.headers), true);
          assert.equal(reply.headers['upload-offset'], '5000');
          const a = await attachment(reply.headers.location!);
          assert.equal(a.sha1, sha1(file));
          assert.equal(a.size, 5000);
          assert.equal(a.filename, 'take 1.wav');
        });

        test('creation of an empty upload, appends, offset retrieval, completion', async () => {
          const file = randomFile(9000);
          const created = await send(base, 'POST', '/files/', { ...auth(version), ...completeness(version, false) });
          assert.equal(created.status, 201);
          assert.equal(readComplete(version, created.headers), false);
          const location = String(created.headers.location);
          const first = await send(base, 'PATCH', location, { ...auth(version), ...completeness(version, false), ...appendType(version), 'upload-offset': '0' }, file.subarray(0, 4000));
          assert.equal(first.status, 204, first.body);
          assert.equal(first.headers['upload-offset'], '4000');
          assert.equal(readComplete(version, first.headers), false);
          const offset = await send(base, 'HEAD', location, auth(version));
          assert.equal(offset.status, 204);
          assert.equal(offset.headers['upload-offset'], '4000');
          assert.equal(offset.headers['cache-control'], 'no-store');
          assert.equal(readComplete(version, offset.headers), false);
          assert.equal(offset.headers['upload-length'], undefined);
          assert.match(String(offset.headers['upload-limit']), /max-size=/);
          const last = await send(base, 'PATCH', location, { ...auth(version), ...completeness(version, true), ...appendType(version), 'upload-offset': '4000' }, file.subarray(4000));
          assert.equal(last.status, 204, last.body);
          assert.equal(readComplete(version, last.headers), true);
          const done = await send(base, 'HEAD', location, auth(version));
          assert.equal(done.headers['upload-length'], '9000');
          assert.equal(readComplete(version, done.headers), true);
          assert.equal((await attachment(location)).sha1, sha1(file));
        });

        test('409 for a wrong offset (with the right one), 400 for an inconsistent length, 404 for others, 204 cancellation', async () => {
          const created = await send(base, 'POST', '/files/', { ...auth(version), ...completeness(version, false), 'upload-length': '100' });
          const location = String(created.headers.location);
          const wrong = await send(base, 'PATCH', location, { ...auth(version), ...completeness(version, false), ...appendType(version), 'upload-offset': '10' }, randomFile(10));
          assert.equal(wrong.status, 409);
          assert.equal(wrong.headers['upload-offset'], '0');
          assert.equal(readComplete(version, wrong.headers), false);
          assert.match(wrong.headers['content-type']!, /^application\/problem\+json/);
          assert.match(JSON.parse(wrong.body).type, /mismatching-upload-offset$/);
          // Completing at 50 bytes what was declared as 100 is an inconsistent length.
          const short = await send(base, 'PATCH', location, { ...auth(version), ...completeness(version, true), ...appendType(version), 'upload-offset': '0' }, randomFile(50));
          assert.equal(short.status, 400, `${short.status} ${short.body}`);
          assert.match(JSON.parse(short.body).type, /inconsistent-upload-length$/);
          assert.equal((await send(base, 'HEAD', location, auth(version, bob.token))).status, 404);
          assert.equal((await send(base, 'HEAD', location, { 'upload-draft-interop-version': String(version) })).status, 401);
          const cancel = await send(base, 'DELETE', location, auth(version));
          assert.equal(cancel.status, 204);
          assert.equal((await send(base, 'HEAD', location, auth(version))).status, 404);
        });

        test('413 past Upload-Limit max-size, with the limit; 400 for a malformed offset', async () => {
          const tooLarge = await send(base, 'POST', '/files/', { ...auth(version), ...completeness(version, false), 'upload-length': String(MAX + 1) });
          assert.equal(tooLarge.status, 413);
          assert.match(String(tooLarge.headers['upload-limit']), /max-size=1048576/);
          const created = await send(base, 'POST', '/files/', { ...auth(version), ...completeness(version, false), 'upload-length': '10' });
          const over = await send(base, 'PATCH', created.headers.location!, { ...auth(version), ...completeness(version, false), ...appendType(version), 'upload-offset': '0' }, randomFile(11));
          assert.equal(over.status, 413);
          const bad = await send(base, 'PATCH', created.headers.location!, { ...auth(version), ...appendType(version), 'upload-offset': 'x' }, randomFile(1));
          assert.equal(bad.status, 400);
        });
      });
    }

    test('interop 6 and later: an append without application/partial-upload is 415; 5 accepts any type', async () => {
      const v6 = await send(base, 'POST', '/files/', { ...auth(6), 'upload-complete': '?0' });
      const refused = await send(base, 'PATCH', v6.headers.location!, { ...auth(6), 'upload-complete': '?0', 'upload-offset': '0', 'content-type': 'application/octet-stream' }, randomFile(5));
      assert.equal(refused.status, 415);
      const v5 = await send(base, 'POST', '/files/', { ...auth(5), 'upload-complete': '?0' });
      const accepted = await send(base, 'PATCH', v5.headers.location!, { ...auth(5), 'upload-complete': '?0', 'upload-offset': '0', 'content-type': 'application/octet-stream' }, randomFile(5));
      assert.equal(accepted.status, 204);
    });

    test('a request cut off during creation keeps its prefix: the client resumes from the 104 Location', async () => {
      const file = randomFile(200_000);
      const location = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${base}/files/`, { method: 'POST', headers: { ...auth(8), 'upload-complete': '?1', 'content-length': String(file.length) } });
        req.on('information', (info) => {
          // Send part of the body, then break the connection.
          req.write(file.subarray(0, 100_000), () => setTimeout(() => req.destroy(), 200));
          resolve(info.headers.location as string);
        });
        req.on('error', () => undefined);
        req.on('response', () => reject(new Error('no final response expected')));
        req.flushHeaders();
      });
      let offset = 0;
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const head = await send(base, 'HEAD', location, auth(8));
        offset = Number(head.headers['upload-offset']);
        if (offset > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(offset > 0 && offset <= 100_000, `offset ${offset}`);
      const rest = await send(base, 'PATCH', location, { ...auth(8), 'upload-complete': '?1', 'content-type': 'application/partial-upload', 'upload-offset': String(offset) }, file.subarray(offset));
      assert.equal(rest.status, 204, rest.body);
      assert.equal((await attachment(location)).sha1, sha1(file));
    });

    test('OPTIONS announces Upload-Limit', async () => {
      const reply = await send(base, 'OPTIONS', '/files/', {});
      assert.match(String(reply.headers['upload-limit']), /max-size=1048576/);
    });
  });
}
