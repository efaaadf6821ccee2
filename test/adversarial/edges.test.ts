/**
 * Smaller holes of issue 11, each on every database: coded bodies, odd Range and
 * If-None-Match headers, disk space promised to open attachments, replies to a message
 * deleted from one's view.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Sends a request as written and resolves the status line's code and the body. */
function rawRequest(base: string, head: string, body: Buffer | string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(Buffer.concat([Buffer.from(head), Buffer.from(body)])));
    let answer = '';
    socket.on('data', (data: Buffer) => {
      answer += data.toString('latin1');
      if (/\r\n\r\n/.test(answer)) {
        const length = Number(/content-length: (\d+)/i.exec(answer)?.[1] ?? 0);
        if (answer.length >= answer.indexOf('\r\n\r\n') + 4 + length) socket.destroy();
      }
    });
    socket.on('close', () => resolve({ status: Number(answer.slice(9, 12)), text: answer.slice(answer.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', reject);
  });
}

for (const kind of databaseKinds()) {
  describe(`edges on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let alice: { token: string; id: number };
    let bob: { token: string; id: number };

    before(async () => {
      // No per-user reservation bound here: these tests are about the disk's own free space.
      server = await startServer(kind, { maxAttachmentSize: 2 ** 50, maxReservedBytes: 2 ** 52 });
      alice = await newUser(server.url, 'alice');
      bob = await newUser(server.url, 'bob');
    });
    after(() => server.close());

    test('a chunk with a transfer coding other than chunked, or a content coding, is 415 and records nothing', async () => {
      const id = await createAttachment(server.url, alice.token, 100);
      const path = `/attachments/${id}?attachment%5Bchunk_offset%5D=0`;
      const common = `Host: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/octet-stream\r\n`;
      const gzipChunked = await rawRequest(server.url, `PUT ${path} HTTP/1.1\r\n${common}Transfer-Encoding: gzip, chunked\r\n\r\n`, '5\r\nhello\r\n0\r\n\r\n');
      assert.equal(gzipChunked.status, 415, gzipChunked.text);
      assert.equal(JSON.parse(gzipChunked.text).body.error.name, 'unsupported_media_type');
      const gzipContent = await rawRequest(server.url, `PUT ${path} HTTP/1.1\r\n${common}Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\n`, 'hello');
      assert.equal(gzipContent.status, 415, gzipContent.text);
      const chunked = await rawRequest(server.url, `PUT ${path} HTTP/1.1\r\n${common}Transfer-Encoding: chunked\r\n\r\n`, '5\r\nhello\r\n0\r\n\r\n');
      assert.equal(chunked.status, 200, chunked.text);
      assert.deepEqual(JSON.parse(chunked.text).body.attachment.ranges, [[0, 5]], 'only the plain chunked body was recorded');
    });

    test('Range bytes=5-3 is ignored (200, the whole file); a weak ETag in If-None-Match answers 304', async () => {
      const audio = fixture('tone.mp3');
      const made = await request(server.url, 'POST', '/audio_clips', {
        token: alice.token,
        multipart: [['audio_clip[title]', 'ranges'], ['audio_clip[uploaded_data]', audio, 'tone.mp3']],
      });
      assert.equal(made.status, 201, made.text);
      const url = `${server.url}/audio_clips/${made.json.body.audio_clip.id}/audio`;
      const backwards = await fetch(url, { headers: { range: 'bytes=5-3' } });
      assert.equal(backwards.status, 200);
      assert.equal((await backwards.arrayBuffer()).byteLength, audio.length);
      const etag = made.json.body.audio_clip.audio.sha1;
      const weak = await fetch(url, { headers: { 'if-none-match': `W/"${etag}"` } });
      assert.equal(weak.status, 304);
      assert.equal((await fetch(url, { headers: { 'if-none-match': '"other", W/"nope"' } })).status, 200);
    });

    test('MIN_FREE_BYTES counts the declared sizes of open attachments: sparse files do not get to promise the same space twice', async () => {
      const health = await request(server.url, 'GET', '/healthz');
      const free = health.json.body.free_bytes as number;
      const size = Math.floor(free * 0.6);
      const first = await request(server.url, 'POST', '/attachments', { token: alice.token, json: { attachment: { size } } });
      assert.equal(first.status, 201, first.text);
      const second = await request(server.url, 'POST', '/attachments', { token: bob.token, json: { attachment: { size } } });
      assert.equal(second.status, 507, second.text);
      assert.equal(second.json.body.error.name, 'insufficient_storage');
      // Deleting the first gives its space back.
      assert.equal((await request(server.url, 'DELETE', `/attachments/${first.json.body.attachment.id}`, { token: alice.token })).status, 204);
      const third = await request(server.url, 'POST', '/attachments', { token: bob.token, json: { attachment: { size } } });
      assert.equal(third.status, 201, third.text);
      await request(server.url, 'DELETE', `/attachments/${third.json.body.attachment.id}`, { token: bob.token });
    });

    test("another user's attachment answers exactly as a missing one does", async () => {
      const id = await createAttachment(server.url, alice.token, 100);
      const others = await request(server.url, 'GET', `/attachments/${id}`, { token: bob.token });
      const missing = await request(server.url, 'GET', `/attachments/${id + 1_000_000}`, { token: bob.token });
      assert.equal(others.status, 404);
      assert.deepEqual({ ...others.json, timestamp: 0 }, { ...missing.json, timestamp: 0 });
    });

    test('a recipient cannot reply to a message they deleted from their view', async () => {
      const audio = fixture('tone.mp3');
      const send = (token: string, recipient: number, parent?: number) =>
        request(server.url, 'POST', '/account/outbox', {
          token,
          multipart: [
            ['message[recipient_id]', String(recipient)],
            ...(parent === undefined ? [] : ([['message[parent_id]', String(parent)]] as Array<[string, string]>)),
            ['message[uploaded_data]', audio, 'tone.mp3'],
          ],
        });
      const sent = await send(alice.token, bob.id);
      assert.equal(sent.status, 201, sent.text);
      const id = sent.json.body.message.id;
      assert.equal((await request(server.url, 'DELETE', `/account/messages/${id}`, { token: bob.token })).status, 204);
      const reply = await send(bob.token, alice.id, id);
      assert.equal(reply.status, 422, reply.text);
      assert.equal(reply.json.body.error.name, 'parent_not_found');
      // The sender, who still sees it, may.
      assert.equal((await send(alice.token, bob.id, id)).status, 201);
    });
  });
}
