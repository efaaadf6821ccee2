/**
 * Requests that break off midway record at most the bytes fully received and
 * written, never a byte that was not, checksummed or not (SPEC 3.6); a stalled request is
 * cut off by the idle timeout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer, uploadBytes, type TestServer } from '../helpers/server.js';

function openSocket(base: string): Promise<net.Socket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Polls the status until its ranges are `expected`, or (without one) stop changing once
 * something is recorded; bounded. A cut request is committed when the server notices the cut,
 * which on a busy machine can come well after the client hung up.
 */
async function settledRanges(base: string, token: string, id: number, expected?: Array<[number, number]>): Promise<Array<[number, number]>> {
  let previous = '';
  let ranges: Array<[number, number]> = [];
  for (let i = 0; i < 150; i += 1) {
    ranges = (await request(base, 'GET', `/attachments/${id}`, { token })).json.body.attachment.ranges;
    const now = JSON.stringify(ranges);
    if (expected ? now === JSON.stringify(expected) : ranges.length > 0 && now === previous) return ranges;
    previous = now;
    await delay(100);
  }
  return ranges;
}

function rawHead(id: number, token: string, offset: number, length: number, extraQuery = ''): string {
  return (
    `PUT /attachments/${id}?attachment%5Bchunk_offset%5D=${offset}${extraQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Authorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`
  );
}

for (const kind of storageKinds()) {
  describe(`cut-off requests on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let token: string;
    let userId: number;
    before(async () => {
      server = await startServer(kind, { uploadIdleTimeoutSeconds: 1 });
      ({ token, id: userId } = await newUser(server.url, 'cut'));
    });
    after(() => server.close());

    async function diskBytes(id: number, start: number, end: number): Promise<Buffer> {
      return uploadBytes(server, userId, id, start, end);
    }

    test('a raw chunk cut off midway records exactly the prefix that arrived', async () => {
      const file = randomFile(600_000);
      const id = await createAttachment(server.url, token, file.length);
      const socket = await openSocket(server.url);
      socket.write(rawHead(id, token, 100_000, 400_000));
      socket.write(file.subarray(100_000, 350_000));
      await delay(300);
      socket.destroy();
      const ranges = await settledRanges(server.url, token, id, [[100_000, 350_000]]);
      assert.deepEqual(ranges, [[100_000, 350_000]]);
      assert.ok((await diskBytes(id, 100_000, 350_000)).equals(file.subarray(100_000, 350_000)));
    });

    test('a multipart chunk cut off midway records a prefix of what arrived, byte-exact', async () => {
      const file = randomFile(300_000);
      const id = await createAttachment(server.url, token, file.length);
      const boundary = 'trickleboundary12345';
      const head =
        `--${boundary}\r\nContent-Disposition: form-data; name="attachment[chunk_offset]"\r\n\r\n50000\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="attachment[chunk]"; filename="c.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
      const socket = await openSocket(server.url);
      socket.write(
        `PUT /attachments/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${head.length + 200_000 + 100}\r\n\r\n`,
      );
      socket.write(head);
      socket.write(file.subarray(50_000, 170_000));
      await delay(300);
      socket.destroy();
      const ranges = await settledRanges(server.url, token, id);
      assert.equal(ranges.length, 1);
      const [start, end] = ranges[0]!;
      assert.equal(start, 50_000);
      // The parser may hold back a few bytes that could start a boundary; never more.
      assert.ok(end <= 170_000 && end >= 170_000 - 1024, `recorded up to ${end}`);
      assert.ok((await diskBytes(id, start, end)).equals(file.subarray(start, end)));
    });

    test('a checksummed chunk that breaks off keeps the prefix that arrived (SPEC 3.6), and the file SHA1 still guards it', async () => {
      const file = randomFile(200_000);
      const id = await createAttachment(server.url, token, file.length);
      const socket = await openSocket(server.url);
      socket.write(rawHead(id, token, 0, 200_000, `&attachment%5Bchunk_sha1%5D=${sha1(file)}`));
      socket.write(file.subarray(0, 150_000));
      await delay(300);
      socket.destroy();
      assert.deepEqual(await settledRanges(server.url, token, id, [[0, 150_000]]), [[0, 150_000]]);
      assert.ok((await diskBytes(id, 0, 150_000)).equals(file.subarray(0, 150_000)));
      // Only the tail is sent again; the whole file's SHA1 is the file's. The server closes idle
      // connections after 1 s here, so a pooled one may be gone: the (idempotent) PUT is sent again.
      const sendRest = () =>
        request(server.url, 'PUT', `/attachments/${id}?attachment%5Bchunk_offset%5D=150000&attachment%5Bchunk_sha1%5D=${sha1(file.subarray(150_000))}`, {
          token,
          raw: file.subarray(150_000),
        });
      const rest = await sendRest().catch((error: unknown) => {
        if (error instanceof TypeError) return sendRest();
        throw error;
      });
      assert.equal(rest.status, 200, rest.text);
      assert.equal(rest.json.body.attachment.sha1, sha1(file));
    });

    test('a stalled request is cut off after the idle timeout and keeps its prefix', async () => {
      const file = randomFile(100_000);
      const id = await createAttachment(server.url, token, file.length);
      const socket = await openSocket(server.url);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      socket.write(rawHead(id, token, 0, 100_000));
      socket.write(file.subarray(0, 30_000));
      const started = Date.now();
      const outcome = await Promise.race([closed.then(() => 'closed'), delay(8000).then(() => 'still open')]);
      assert.equal(outcome, 'closed');
      assert.ok(Date.now() - started >= 800, 'closed before the idle timeout');
      assert.deepEqual(await settledRanges(server.url, token, id, [[0, 30_000]]), [[0, 30_000]]);
      // The attachment goes on as if nothing happened.
      const rest = await request(server.url, 'PUT', `/attachments/${id}?attachment%5Bchunk_offset%5D=30000`, { token, raw: file.subarray(30_000) });
      assert.equal(rest.json.body.attachment.sha1, sha1(file));
    });
  });

  describe(`a silent request in the way on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let token: string;
    before(async () => {
      // The idle timeout stays long: the request that needs the region must not wait for it.
      server = await startServer(kind, { uploadIdleTimeoutSeconds: 60 });
      ({ token } = await newUser(server.url, 'silent'));
    });
    after(() => server.close());

    test('a chunk whose bytes stopped coming is cut off when another request needs its region, and keeps its prefix', async () => {
      const file = randomFile(200_000);
      const id = await createAttachment(server.url, token, file.length);
      // A connection that goes silent for good (a lost NAT mapping): open, but nothing more comes.
      const silent = await openSocket(server.url);
      silent.on('error', () => undefined);
      silent.write(rawHead(id, token, 0, 200_000));
      silent.write(file.subarray(0, 50_000));
      await delay(1500);
      const started = Date.now();
      const again = request(server.url, 'PUT', `/attachments/${id}?attachment%5Bchunk_offset%5D=0`, { token, raw: file });
      const outcome = await Promise.race([again.then((reply) => reply), delay(15_000).then(() => null)]);
      const waited = Date.now() - started;
      silent.destroy();
      assert.ok(outcome !== null, 'the second request waited for the idle timeout');
      assert.equal(outcome.status, 200, JSON.stringify(outcome.json));
      assert.equal(outcome.json.body.attachment.sha1, sha1(file));
      assert.ok(waited < 10_000, `answered after ${waited} ms`);
    });
  });
}
