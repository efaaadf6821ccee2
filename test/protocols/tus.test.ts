/**
 * tus 1.0.0 at /files/ on the wire: every status code the protocol and its extensions
 * define, on every database kind, plus CORS as browsers use it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { newUser, randomFile, request, sha1, type Reply } from '../helpers/client.js';
import { startServer, TestClock, type TestServer } from '../helpers/server.js';

const MAX = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const b64 = (text: string) => Buffer.from(text).toString('base64');
const sha1b64 = (data: Buffer) => createHash('sha1').update(data).digest('base64');

for (const kind of storageKinds()) {
  describe(`tus 1.0 on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let alice: { token: string; id: number };
    let bob: { token: string; id: number };
    const clock = new TestClock();

    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: MAX, corsOrigins: ['http://127.0.0.1:9'] }, clock);
      base = server.url;
      alice = await newUser(base, 'alice');
      bob = await newUser(base, 'bob');
    });
    after(() => server.close());

    const auth = (token = alice.token) => ({ ...TUS, authorization: `Bearer ${token}` });
    async function create(headers: Record<string, string>, body?: Buffer): Promise<Reply> {
      return request(base, 'POST', '/files/', { headers: { ...auth(), ...headers }, ...(body ? { raw: body } : {}) });
    }
    async function createUpload(length: number, extra: Record<string, string> = {}): Promise<string> {
      const reply = await create({ 'upload-length': String(length), ...extra });
      assert.equal(reply.status, 201, reply.text);
      return reply.headers.get('location')!;
    }
    const patch = (url: string, offset: number, body: Buffer, headers: Record<string, string> = {}, token = alice.token) =>
      request(base, 'PATCH', url, { headers: { ...auth(token), 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers }, raw: body });
    const head = (url: string, token = alice.token) => request(base, 'HEAD', url, { headers: auth(token) });

    test('OPTIONS advertises version, extensions, max size and checksum algorithms (204, no Tus-Resumable needed)', async () => {
      for (const path of ['/files/', '/files', '/files/1']) {
        const reply = await request(base, 'OPTIONS', path);
        assert.equal(reply.status, 204, path);
        assert.equal(reply.headers.get('tus-version'), '1.0.0');
        assert.equal(reply.headers.get('tus-resumable'), '1.0.0');
        assert.deepEqual(reply.headers.get('tus-extension')!.split(','), ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum', 'concatenation']);
        assert.equal(reply.headers.get('tus-max-size'), String(MAX));
        assert.equal(reply.headers.get('tus-checksum-algorithm'), 'sha1,sha256');
      }
    });

    test('creation 201 with Location and Upload-Expires; HEAD 200 with offset, length, metadata, no-store', async () => {
      const reply = await create({ 'upload-length': '10', 'upload-metadata': `filename ${b64('memo.m4a')},filetype ${b64('audio/mp4')},empty` });
      assert.equal(reply.status, 201);
      const url = reply.headers.get('location')!;
      assert.match(url, /^\/files\/\d+$/);
      assert.equal(reply.headers.get('tus-resumable'), '1.0.0');
      assert.equal(reply.headers.get('upload-offset'), '0');
      assert.ok(Date.parse(reply.headers.get('upload-expires')!) > Date.now());
      const status = await head(url);
      assert.equal(status.status, 200);
      assert.equal(status.headers.get('upload-offset'), '0');
      assert.equal(status.headers.get('upload-length'), '10');
      assert.equal(status.headers.get('upload-metadata'), `filename ${b64('memo.m4a')},filetype ${b64('audio/mp4')},empty`);
      assert.equal(status.headers.get('cache-control'), 'no-store');
      // The same upload is an attachment, named by the metadata.
      const attachment = await request(base, 'GET', `/attachments/${url.split('/').pop()}`, { token: alice.token });
      assert.equal(attachment.json.body.attachment.filename, 'memo.m4a');
      assert.equal(attachment.json.body.attachment.size, 10);
      // name/type work as well.
      const named = await createUpload(3, { 'upload-metadata': `name ${b64('x.ogg')},type ${b64('audio/ogg')}` });
      assert.equal((await request(base, 'GET', `/attachments/${named.split('/').pop()}`, { token: alice.token })).json.body.attachment.filename, 'x.ogg');
    });

    test('PATCH 204 with the new offset; a wrong offset is 409 with the current one; the finished upload has its SHA1', async () => {
      const file = randomFile(3000);
      const url = await createUpload(file.length);
      const first = await patch(url, 0, file.subarray(0, 1000));
      assert.equal(first.status, 204);
      assert.equal(first.headers.get('upload-offset'), '1000');
      const wrong = await patch(url, 500, file.subarray(500, 1500));
      assert.equal(wrong.status, 409);
      assert.equal(wrong.headers.get('upload-offset'), '1000');
      assert.equal((await patch(url, 2000, file.subarray(2000))).status, 409);
      const last = await patch(url, 1000, file.subarray(1000));
      assert.equal(last.status, 204);
      assert.equal(last.headers.get('upload-offset'), '3000');
      const attachment = (await request(base, 'GET', `/attachments/${url.split('/').pop()}`, { token: alice.token })).json.body.attachment;
      assert.equal(attachment.sha1, sha1(file));
      assert.equal((await head(url)).headers.get('upload-offset'), '3000');
    });

    test('400 for malformed headers, 412 without Tus-Resumable, 415 for another PATCH type, 413 past the length or the maximum', async () => {
      const url = await createUpload(100);
      assert.equal((await create({})).status, 400);
      assert.equal((await create({ 'upload-length': '10', 'upload-defer-length': '1' })).status, 400);
      assert.equal((await create({ 'upload-length': 'ten' })).status, 400);
      assert.equal((await create({ 'upload-defer-length': '2' })).status, 400);
      assert.equal((await create({ 'upload-length': '5', 'upload-metadata': 'filename not*base64' })).status, 400);
      assert.equal((await patch(url, 0, randomFile(5), { 'upload-offset': '-1' })).status, 400);
      const noVersion = await request(base, 'POST', '/files/', { headers: { authorization: `Bearer ${alice.token}`, 'upload-length': '5' } });
      assert.equal(noVersion.status, 412);
      assert.equal(noVersion.headers.get('tus-version'), '1.0.0');
      assert.equal((await request(base, 'HEAD', url, { headers: { 'tus-resumable': '0.2.2', authorization: `Bearer ${alice.token}` } })).status, 412);
      assert.equal((await patch(url, 0, randomFile(5), { 'content-type': 'application/octet-stream' })).status, 415);
      assert.equal((await patch(url, 0, randomFile(101))).status, 413);
      assert.equal((await create({ 'upload-length': String(MAX + 1) })).status, 413);
      assert.equal((await head(url)).headers.get('upload-offset'), '0');
    });

    test('401 without a token; 404 for unknown uploads and for another user\'s', async () => {
      const url = await createUpload(10);
      assert.equal((await request(base, 'POST', '/files/', { headers: { ...TUS, 'upload-length': '5' } })).status, 401);
      assert.equal((await request(base, 'HEAD', url, { headers: TUS })).status, 401);
      assert.equal((await head(url, bob.token)).status, 404);
      assert.equal((await patch(url, 0, randomFile(10), {}, bob.token)).status, 404);
      assert.equal((await request(base, 'DELETE', url, { headers: auth(bob.token) })).status, 404);
      assert.equal((await head('/files/999999')).status, 404);
      assert.equal((await head('/files/abc')).status, 404);
      assert.equal((await head(url)).status, 200);
    });

    test('creation-with-upload: the body is the first bytes, with its checksum', async () => {
      const file = randomFile(500);
      const reply = await create({ 'upload-length': '500', 'content-type': 'application/offset+octet-stream', 'upload-checksum': `sha1 ${sha1b64(file.subarray(0, 200))}` }, file.subarray(0, 200));
      assert.equal(reply.status, 201, reply.text);
      assert.equal(reply.headers.get('upload-offset'), '200');
      const url = reply.headers.get('location')!;
      assert.equal((await patch(url, 200, file.subarray(200))).headers.get('upload-offset'), '500');
    });

    test('creation-defer-length: Upload-Defer-Length, then Upload-Length on a PATCH (with bytes or alone)', async () => {
      const file = randomFile(2000);
      const reply = await create({ 'upload-defer-length': '1' });
      assert.equal(reply.status, 201);
      const url = reply.headers.get('location')!;
      const pending = await head(url);
      assert.equal(pending.headers.get('upload-defer-length'), '1');
      assert.equal(pending.headers.get('upload-length'), null);
      assert.equal((await patch(url, 0, file.subarray(0, 1500))).status, 204);
      const last = await patch(url, 1500, file.subarray(1500), { 'upload-length': '2000' });
      assert.equal(last.status, 204);
      assert.equal((await head(url)).headers.get('upload-length'), '2000');
      assert.equal((await request(base, 'GET', `/attachments/${url.split('/').pop()}`, { token: alice.token })).json.body.attachment.sha1, sha1(file));
      // The length alone, on an empty PATCH.
      const alone = (await create({ 'upload-defer-length': '1' })).headers.get('location')!;
      await patch(alone, 0, file.subarray(0, 100));
      const fixed = await patch(alone, 100, Buffer.alloc(0), { 'upload-length': '100' });
      assert.equal(fixed.status, 204);
      assert.equal((await head(alone)).headers.get('upload-length'), '100');
      // A length below what was received is a conflict.
      const short = (await create({ 'upload-defer-length': '1' })).headers.get('location')!;
      await patch(short, 0, file.subarray(0, 100));
      assert.equal((await patch(short, 100, Buffer.alloc(0), { 'upload-length': '50' })).status, 409);
    });

    test('checksum: a matching sha1 is accepted; a mismatch is 460 and records nothing; another algorithm is 400', async () => {
      const file = randomFile(1000);
      const url = await createUpload(file.length);
      const bad = await patch(url, 0, file.subarray(0, 500), { 'upload-checksum': `sha1 ${sha1b64(randomFile(10))}` });
      assert.equal(bad.status, 460);
      assert.equal((await head(url)).headers.get('upload-offset'), '0');
      assert.equal((await patch(url, 0, file.subarray(0, 500), { 'upload-checksum': `md5 ${sha1b64(file)}` })).status, 400);
      assert.equal((await patch(url, 0, file.subarray(0, 500), { 'upload-checksum': 'sha1 !!!' })).status, 400);
      const good = await patch(url, 0, file.subarray(0, 500), { 'upload-checksum': `sha1 ${sha1b64(file.subarray(0, 500))}` });
      assert.equal(good.status, 204);
      assert.equal(good.headers.get('upload-offset'), '500');
    });

    test('termination: DELETE 204, then the upload (and the attachment) is gone', async () => {
      const url = await createUpload(10);
      const reply = await request(base, 'DELETE', url, { headers: auth() });
      assert.equal(reply.status, 204);
      assert.equal((await head(url)).status, 404);
      assert.equal((await request(base, 'GET', `/attachments/${url.split('/').pop()}`, { token: alice.token })).status, 404);
    });

    test('expiration: Upload-Expires moves with each PATCH; an expired upload is 404', async () => {
      const url = await createUpload(100);
      const before = Date.parse((await head(url)).headers.get('upload-expires') ?? '');
      clock.advance(10_000);
      const after = Date.parse((await patch(url, 0, randomFile(10))).headers.get('upload-expires') ?? '');
      assert.ok(after >= before + 9_000, `${before} → ${after}`);
      clock.advance(server.config.attachmentIdleTimeoutSeconds * 1000 + 1000);
      await server.app.services.attachments.sweepExpired();
      assert.equal((await head(url)).status, 404);
    });

    test('concatenation: partial uploads in parallel, then a final upload; PATCH on the final one is 403', async () => {
      const file = randomFile(3000);
      const pieces = [file.subarray(0, 1000), file.subarray(1000, 2500), file.subarray(2500)];
      const urls = await Promise.all(
        pieces.map(async (piece) => {
          const url = await createUpload(piece.length, { 'upload-concat': 'partial' });
          assert.equal((await patch(url, 0, piece)).status, 204);
          assert.equal((await head(url)).headers.get('upload-concat'), 'partial');
          return url;
        }),
      );
      const final = await create({ 'upload-concat': `final;${urls.join(' ')}`, 'upload-metadata': `filename ${b64('joined.bin')}` });
      assert.equal(final.status, 201, final.text);
      const finalUrl = final.headers.get('location')!;
      const status = await head(finalUrl);
      assert.equal(status.headers.get('upload-offset'), '3000');
      assert.equal(status.headers.get('upload-length'), '3000');
      assert.equal(status.headers.get('upload-concat'), `final;${urls.join(' ')}`);
      const attachment = (await request(base, 'GET', `/attachments/${finalUrl.split('/').pop()}`, { token: alice.token })).json.body.attachment;
      assert.equal(attachment.sha1, sha1(file));
      assert.equal(attachment.filename, 'joined.bin');
      assert.equal((await patch(finalUrl, 3000, randomFile(1))).status, 403);
      // Parts that are not partial uploads, or not finished, cannot be concatenated.
      const plain = await createUpload(5);
      await patch(plain, 0, randomFile(5));
      assert.equal((await create({ 'upload-concat': `final;${plain}` })).status, 400);
      const unfinished = await createUpload(5, { 'upload-concat': 'partial' });
      assert.equal((await create({ 'upload-concat': `final;${unfinished}` })).status, 400);
      // Consumed by a complete final, the partial uploads are deleted (SPEC 3.6): none can be used again.
      for (const url of urls) assert.equal((await head(url)).status, 404);
      assert.equal((await create({ 'upload-concat': `final;${urls[0]}` }, undefined)).status, 404);
      // Someone else's partial upload does not exist for bob.
      assert.equal((await request(base, 'POST', '/files/', { headers: { ...auth(bob.token), 'upload-concat': `final;${urls[0]}` } })).status, 404);
    });

    test('429 when the open-uploads limit is reached', async () => {
      const user = await newUser(base, 'many');
      let status = 0;
      for (let i = 0; i <= server.config.maxOpenAttachments && status !== 429; i += 1) {
        status = (await request(base, 'POST', '/files/', { headers: { ...auth(user.token), 'upload-length': '5' } })).status;
      }
      assert.equal(status, 429);
    });

    test('CORS: preflights allow the tus headers; answers expose what tus-js-client reads; other origins get nothing', async () => {
      const origin = 'http://127.0.0.1:9';
      const preflight = await request(base, 'OPTIONS', '/files/', {
        headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,tus-resumable,upload-offset,upload-checksum,content-type' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      const allowed = preflight.headers.get('access-control-allow-headers')!.toLowerCase();
      for (const name of ['authorization', 'tus-resumable', 'upload-offset', 'upload-length', 'upload-metadata', 'upload-checksum', 'upload-concat', 'upload-defer-length', 'upload-complete', 'upload-draft-interop-version']) {
        assert.ok(allowed.includes(name), name);
      }
      assert.match(preflight.headers.get('access-control-allow-methods')!, /PATCH/);
      // Every other route has preflights too.
      const api = await request(base, 'OPTIONS', '/attachments/1', { headers: { origin, 'access-control-request-method': 'PUT' } });
      assert.equal(api.status, 204);
      const created = await create({ origin, 'upload-length': '5' });
      assert.equal(created.headers.get('access-control-allow-origin'), origin);
      const exposed = created.headers.get('access-control-expose-headers')!.toLowerCase();
      for (const name of ['location', 'upload-offset', 'upload-length', 'upload-expires', 'tus-resumable', 'tus-version', 'upload-complete', 'upload-limit']) assert.ok(exposed.includes(name), name);
      const stranger = await create({ origin: 'http://evil.example', 'upload-length': '5' });
      assert.equal(stranger.headers.get('access-control-allow-origin'), null);
    });
  });
}
