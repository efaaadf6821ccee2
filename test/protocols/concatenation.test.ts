/**
 * tus concatenation under misuse (issue 22 item 5), on every store: a partial upload deleted
 * while a final upload reads it is a 404, never a 500; a partial appears at most once in a
 * final; the final's size meets the user's limits before any byte is copied; the final's URLs
 * must name this server's /files/ uploads; an object store joins the partials inside itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { randomFile, request, sha1 } from '../helpers/client.js';
import { wavHeader } from '../helpers/media.js';
import { suiteServer } from '../helpers/server.js';

const MIB = 1024 * 1024;

for (const kind of storageKinds()) {
  describe(`tus concatenation under misuse on ${kind.name}`, { skip: kind.skip }, () => {
    const suite = suiteServer(kind, { maxAttachmentSize: 16 * MIB, maxReservedBytes: 6 * MIB });
    const tus = () => ({ 'tus-resumable': '1.0.0', authorization: `Bearer ${suite.alice.token}` });
    const final = (urls: string[]) => request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-concat': `final;${urls.join(' ')}` } });
    async function partial(bytes: Buffer): Promise<string> {
      const created = await request(suite.base, 'POST', '/files/', { headers: { ...tus(), 'upload-length': String(bytes.length), 'upload-concat': 'partial' } });
      assert.equal(created.status, 201, created.text);
      const url = created.headers.get('location')!;
      const sent = await request(suite.base, 'PATCH', url, { headers: { ...tus(), 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, raw: bytes });
      assert.equal(sent.status, 204, sent.text);
      return url;
    }

    test('a partial deleted while the final reads it: 404 (or 201 if the final was first), never 500', async () => {
      const statuses: number[] = [];
      for (let trial = 0; trial < 8; trial += 1) {
        const parts = await Promise.all([randomFile(MIB), randomFile(MIB), randomFile(MIB)].map(partial));
        const making = final(parts);
        await new Promise((resolve) => setTimeout(resolve, trial * 4));
        const deleted = await request(suite.base, 'DELETE', parts[2]!, { headers: tus() });
        const made = await making;
        statuses.push(made.status);
        assert.ok([201, 404].includes(made.status), `trial ${trial}: final ${made.status} ${made.text}`);
        // Whatever the order, the partial is gone or the final is whole.
        if (made.status === 201) assert.equal((await request(suite.base, 'HEAD', made.headers.get('location')!, { headers: tus() })).headers.get('upload-offset'), String(3 * MIB));
        else assert.equal(deleted.status, 204);
        for (const url of parts) await request(suite.base, 'DELETE', url, { headers: tus() });
        if (made.status === 201) await request(suite.base, 'DELETE', made.headers.get('location')!, { headers: tus() });
      }
      console.log(`# final answers while a partial was deleted: ${statuses.join(' ')}`);
    });

    test('a partial named twice is 400; the URLs must name /files/ uploads of this server', async () => {
      const bytes = randomFile(1000);
      const url = await partial(bytes);
      assert.equal((await final([url, url])).status, 400);
      assert.equal((await final([url, url.replace(/\/files\/(\d+)$/, '/files/0$1')])).status, 400);
      const id = url.split('/').pop()!;
      for (const foreign of [`http://evil.example/files/${id}`, `/attachments/${id}`, `/files/${id}?x=1`, `/other/files/${id}`, `//evil.example/files/${id}`, 'not a url at all']) {
        const reply = await final([foreign]);
        assert.equal(reply.status, 400, `${foreign}: ${reply.text}`);
      }
      // The same upload as an absolute URL of this server, or relative: accepted.
      const absolute = await final([`${suite.base}/files/${id}`]);
      assert.equal(absolute.status, 201, absolute.text);
      const made = (await request(suite.base, 'GET', `/attachments/${absolute.headers.get('location')!.split('/').pop()}`, { token: suite.alice.token })).json.body.attachment;
      assert.equal(made.sha1, sha1(bytes));
    });

    test('an object store joins the partials inside itself: no partial byte passes through the server', async (t) => {
      const pieces = suite.server.app.services.store;
      if (pieces.kind !== 'pieces') return t.skip('this store writes uploads in place: the bytes are copied through the write path');
      // A WAV file, so that the final can become a clip; its partials cut it anywhere.
      const wav = Buffer.concat([wavHeader(4 * MIB + 6), randomFile(4 * MIB + 6)]);
      const bytes = [wav.subarray(0, MIB), wav.subarray(MIB, 3 * MIB + 7), wav.subarray(3 * MIB + 7)];
      const urls = [];
      for (const part of bytes) urls.push(await partial(part));
      // Counted while the final is made: bytes the server stores itself, and joins made by the store.
      const calls = { put: 0, stream: 0, assemble: 0 };
      const original = { putPiece: pieces.putPiece, streamPiece: pieces.streamPiece, assemble: pieces.assemble };
      pieces.putPiece = (...args: Parameters<typeof pieces.putPiece>) => ((calls.put += 1), original.putPiece.apply(pieces, args));
      const stream = original.streamPiece;
      if (stream) pieces.streamPiece = (length: number) => ((calls.stream += 1), stream.call(pieces, length));
      pieces.assemble = (...args: Parameters<typeof pieces.assemble>) => ((calls.assemble += 1), original.assemble.apply(pieces, args));
      const started = Date.now();
      let made;
      try {
        made = await final(urls);
      } finally {
        Object.assign(pieces, original);
      }
      assert.equal(made.status, 201, made.text);
      t.diagnostic(`final of ${bytes.length} partials (4 MiB) made in ${Date.now() - started} ms; store calls ${JSON.stringify(calls)}`);
      assert.deepEqual({ put: calls.put, stream: calls.stream }, { put: 0, stream: 0 });
      assert.ok(calls.assemble >= 1);
      const id = made.headers.get('location')!.split('/').pop();
      const attachment = (await request(suite.base, 'GET', `/attachments/${id}`, { token: suite.alice.token })).json.body.attachment;
      assert.equal(attachment.sha1, sha1(wav));
      // The partials went, and the final is whole on its own.
      for (const url of urls) assert.equal((await request(suite.base, 'HEAD', url, { headers: tus() })).status, 404);
      const clip = await request(suite.base, 'POST', '/audio_clips', {
        token: suite.alice.token,
        json: { audio_clip: { title: 'joined', uploaded_data: { chunked_attachment_id: Number(id), fingerprint: sha1(wav) } } },
      });
      assert.equal(clip.status, 201, clip.text);
      const served = await fetch(new URL(clip.json.body.audio_clip.urls.audio, suite.base), { headers: { authorization: `Bearer ${suite.alice.token}` } });
      assert.equal(sha1(Buffer.from(await served.arrayBuffer())), sha1(wav));
    });

    test("the final's size meets the user's limits before any byte is copied (429 reservation_limit, 413 past the maximum)", async () => {
      // Three finished 2.5 MiB partials (nothing reserved) make a 7.5 MiB final: more than the 6 MiB a user may have declared but not sent.
      // One after the other: each partial's declared bytes are reserved only until they arrive.
      const parts: string[] = [];
      for (let i = 0; i < 3; i += 1) parts.push(await partial(randomFile(2.5 * MIB)));
      const started = Date.now();
      const refused = await final(parts);
      assert.equal(refused.status, 429, refused.text);
      assert.match(refused.text, /declare|reserv/i);
      console.log(`# refused final answered in ${Date.now() - started} ms`);
      // Seven 2.5 MiB partials would make 17.5 MiB: past the largest attachment.
      const more: string[] = [];
      for (let i = 0; i < 4; i += 1) more.push(await partial(randomFile(2.5 * MIB)));
      assert.equal((await final([...parts, ...more])).status, 413);
      // Nothing was made: the partials are all there, unused.
      for (const url of [...parts, ...more]) assert.equal((await request(suite.base, 'HEAD', url, { headers: tus() })).status, 200);
    });
  });
}
