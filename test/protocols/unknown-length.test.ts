/**
 * Bodies of unknown length (Transfer-Encoding: chunked) are judged by what arrives, and no
 * protocol makes an empty attachment (issue 21 item 4, issue 22 item 6), over raw HTTP on
 * every store: an empty chunked PATCH that fixes the length at the offset completes the
 * upload as Content-Length: 0 does; bytes past the end are refused only once they arrive,
 * with nothing written past it; a length of 0 is refused by tus, the IETF draft and REST.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { randomFile, request, sha1 } from '../helpers/client.js';
import { suiteServer } from '../helpers/server.js';

const MAX = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Location of a 104 interim response, if one came. */
  interimLocation?: string;
}

/**
 * Sends a request whose body goes out as Transfer-Encoding: chunked, piece by piece with a
 * pause between pieces (no pieces: an empty chunked body, just the last-chunk marker).
 */
function sendChunked(base: string, method: string, path: string, headers: Record<string, string>, pieces: Buffer[], pauseMs = 20): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers: { ...headers, 'transfer-encoding': 'chunked' } });
    let interimLocation: string | undefined;
    req.on('information', (info) => (interimLocation ??= info.headers.location as string | undefined));
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString(), interimLocation }));
    });
    req.on('error', reject);
    void (async () => {
      for (const piece of pieces) {
        if (req.destroyed) return;
        req.write(piece);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      req.end();
    })();
  });
}

for (const kind of storageKinds()) {
  describe(`bodies of unknown length and empty uploads on ${kind.name}`, { skip: kind.skip }, () => {
    const suite = suiteServer(kind, { maxAttachmentSize: MAX });

    const tus = () => ({ ...TUS, authorization: `Bearer ${suite.alice.token}` });
    const ietf = (version: number) => ({ authorization: `Bearer ${suite.alice.token}`, 'upload-draft-interop-version': String(version) });
    const patchHeaders = (offset: number, extra: Record<string, string> = {}) => ({ ...tus(), 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...extra });
    const attachment = async (location: string) => (await request(suite.base, 'GET', `/attachments/${location.split('/').pop()}`, { token: suite.alice.token })).json.body.attachment;
    async function deferredUpload(first: Buffer): Promise<string> {
      const created = await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-defer-length': '1' } });
      assert.equal(created.status, 201, created.text);
      const url = created.headers.get('location')!;
      const sent = await request(suite.base, 'PATCH', url, { headers: patchHeaders(0), raw: first });
      assert.equal(sent.status, 204, sent.text);
      return url;
    }

    for (const framing of ['content-length: 0', 'chunked'] as const) {
      test(`tus: an empty PATCH (${framing}) whose Upload-Length equals the offset completes the upload`, async () => {
        const file = randomFile(30_000);
        const url = await deferredUpload(file);
        const headers = patchHeaders(file.length, { 'upload-length': String(file.length) });
        const last = framing === 'chunked' ? await sendChunked(suite.base, 'PATCH', url, headers, []) : await request(suite.base, 'PATCH', url, { headers, raw: Buffer.alloc(0) });
        assert.equal(last.status, 204, `${last.status} ${'text' in last ? last.text : last.body}`);
        const a = await attachment(url);
        assert.equal(a.state, 'complete');
        assert.equal(a.size, file.length);
        assert.equal(a.sha1, sha1(file));
      });

      test(`IETF: an empty append (${framing}) with Upload-Complete: ?1 at the end completes the upload`, async () => {
        const file = randomFile(20_000);
        const created = await request(suite.base, 'POST', '/files/', { headers: { ...ietf(8), 'upload-complete': '?0' }, raw: file });
        assert.equal(created.status, 201, created.text);
        const url = created.headers.get('location')!;
        const headers = { ...ietf(8), 'upload-complete': '?1', 'upload-offset': String(file.length), 'content-type': 'application/partial-upload' };
        const last = framing === 'chunked' ? await sendChunked(suite.base, 'PATCH', url, headers, []) : await request(suite.base, 'PATCH', url, { headers, raw: Buffer.alloc(0) });
        assert.equal(last.status, 204);
        const a = await attachment(url);
        assert.equal(a.state, 'complete');
        assert.equal(a.sha1, sha1(file));
      });
    }

    test('tus: a chunked body that ends at Upload-Length is accepted; one byte past it is refused when it arrives, nothing past it written', async () => {
      const file = randomFile(40_000);
      const url = await deferredUpload(file.subarray(0, 10_000));
      // Pieces arrive over time and end exactly at the declared length.
      const pieces = [file.subarray(10_000, 25_000), file.subarray(25_000)];
      const fits = await sendChunked(suite.base, 'PATCH', url, patchHeaders(10_000, { 'upload-length': String(file.length) }), pieces);
      assert.equal(fits.status, 204, fits.body);
      assert.equal((await attachment(url)).sha1, sha1(file));

      // Declared 1,000 bytes at offset 0, sent 600 then 600: the second piece crosses the end.
      const second = (await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-length': '1000' } })).headers.get('location')!;
      const over = await sendChunked(suite.base, 'PATCH', second, patchHeaders(0), [randomFile(600), randomFile(600)]);
      assert.equal(over.status, 413, over.body);
      const after = await attachment(second);
      assert.ok(after.received_bytes <= 1000, `received ${after.received_bytes}`);
      assert.equal(after.state, 'uploading');
      assert.deepEqual(after.ranges.filter(([, end]: [number, number]) => end > 1000), []);
    });

    test('REST: a raw chunked body at the end of a known size is refused only by a byte past the end', async () => {
      const created = await request(suite.base, 'POST', '/attachments', { token: suite.alice.token, form: { 'attachment[size]': '100' } });
      const id = created.json.body.attachment.id as number;
      const path = `/attachments/${id}?attachment%5Bchunk_offset%5D=100`;
      const headers = { authorization: `Bearer ${suite.alice.token}`, 'content-type': 'application/octet-stream' };
      const over = await sendChunked(suite.base, 'PUT', path, headers, [randomFile(5)]);
      assert.equal(over.status, 422, over.body);
      assert.equal(JSON.parse(over.body).body.error.name, 'chunk_out_of_range');
      const empty = await sendChunked(suite.base, 'PUT', path, headers, []);
      assert.equal(empty.status, 400, empty.body);
      const a = (await request(suite.base, 'GET', `/attachments/${id}`, { token: suite.alice.token })).json.body.attachment;
      assert.equal(a.received_bytes, 0);
    });

    test('tus: Upload-Length: 0 is refused at creation and when fixing a deferred length (chunked or not); nothing completes', async () => {
      assert.equal((await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-length': '0' } })).status, 400);
      for (const framing of ['content-length: 0', 'chunked'] as const) {
        const created = await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-defer-length': '1' } });
        const url = created.headers.get('location')!;
        const headers = patchHeaders(0, { 'upload-length': '0' });
        const reply = framing === 'chunked' ? await sendChunked(suite.base, 'PATCH', url, headers, []) : await request(suite.base, 'PATCH', url, { headers, raw: Buffer.alloc(0) });
        assert.equal(reply.status, 400, framing);
        assert.match('text' in reply ? reply.text : reply.body, /Upload-Length must be at least 1/);
        const a = await attachment(url);
        assert.equal(a.state, 'uploading', framing);
        assert.equal(a.size, null, framing);
      }
      // A chunked body with bytes, declaring length 0: refused, nothing recorded.
      const url = (await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-defer-length': '1' } })).headers.get('location')!;
      assert.equal((await sendChunked(suite.base, 'PATCH', url, patchHeaders(0, { 'upload-length': '0' }), [randomFile(10)])).status, 400);
      assert.equal((await attachment(url)).received_bytes, 0);
    });

    for (const version of [3, 6, 7, 8]) {
      test(`IETF interop ${version}: no way to an empty upload (creation or empty completing append, any framing)`, async () => {
        const complete: Record<string, string> = version === 3 ? { 'upload-incomplete': '?0' } : { 'upload-complete': '?1' };
        const incomplete: Record<string, string> = version === 3 ? { 'upload-incomplete': '?1' } : { 'upload-complete': '?0' };
        const appendType: Record<string, string> = version >= 6 ? { 'content-type': 'application/partial-upload' } : {};
        // Creation that completes with nothing: Content-Length: 0, chunked, or no body at all.
        assert.equal((await request(suite.base, 'POST', '/files/', { headers: { ...ietf(version), ...complete }, raw: Buffer.alloc(0) })).status, 400);
        assert.equal((await request(suite.base, 'POST', '/files/', { headers: { ...ietf(version), ...complete } })).status, 400);
        const chunked = await sendChunked(suite.base, 'POST', '/files/', { ...ietf(version), ...complete }, []);
        assert.equal(chunked.status, 400);
        // The upload its 104 announced is gone with the refusal.
        assert.ok(chunked.interimLocation);
        assert.equal((await request(suite.base, 'GET', `/attachments/${chunked.interimLocation.split('/').pop()}`, { token: suite.alice.token })).status, 404);
        // An empty upload completed by an empty append, or given Upload-Length: 0.
        for (const framing of ['content-length: 0', 'chunked'] as const) {
          const created = await request(suite.base, 'POST', '/files/', { headers: { ...ietf(version), ...incomplete } });
          assert.equal(created.status, 201);
          const url = created.headers.get('location')!;
          const headers = { ...ietf(version), ...complete, ...appendType, 'upload-offset': '0' };
          const reply = framing === 'chunked' ? await sendChunked(suite.base, 'PATCH', url, headers, []) : await request(suite.base, 'PATCH', url, { headers, raw: Buffer.alloc(0) });
          assert.equal(reply.status, 400, framing);
          assert.equal((await attachment(url)).state, 'uploading');
          const zero = await request(suite.base, 'PATCH', url, { headers: { ...ietf(version), ...incomplete, ...appendType, 'upload-offset': '0', 'upload-length': '0' }, raw: Buffer.alloc(0) });
          assert.equal(zero.status, 400);
          assert.equal((await attachment(url)).size, null);
        }
      });
    }
  });
}
