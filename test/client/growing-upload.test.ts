/**
 * The SDK uploading a source of unknown length (SPEC 3.8), as a recording in progress gives
 * it: every piece reaches the server while the source is still going, through a network that
 * fails, and the size is fixed when the source ends.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { TrickleClient, upload, type UploadOptions } from '../../src/client/node.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, sha1 } from '../helpers/client.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const QUICK: Partial<UploadOptions> = {
  chunkSizing: { initial: 64 * 1024, min: 16 * 1024, max: 256 * 1024, targetMs: 200 },
  retry: { retries: 40, baseDelayMs: 5, maxDelayMs: 100 },
};

/** `data` cut into pieces of the given sizes, in turn, as Blobs (like MediaRecorder's) or bytes. */
function piecesOf(data: Buffer, sizes: number[], asBlobs: boolean): Array<Blob | Uint8Array> {
  const pieces: Array<Blob | Uint8Array> = [];
  for (let offset = 0, i = 0; offset < data.length; i += 1) {
    const piece = data.subarray(offset, offset + sizes[i % sizes.length]!);
    pieces.push(asBlobs ? new Blob([piece]) : piece);
    offset += piece.length;
  }
  return pieces;
}

for (const kind of databaseKinds()) {
  describe(`SDK uploads of growing sources on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let user: { token: string; id: number; username: string };
    let client: TrickleClient;

    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 1000 });
      user = await newUser(server.url, 'grow');
      client = new TrickleClient({ server: server.url, token: user.token });
    });
    after(async () => {
      await server.close();
    });

    test('each piece reaches the server before the next one exists; the size is fixed at the end', async () => {
      const data = fixture('recorded.webm');
      const pieces = piecesOf(data, [700, 300, 1100], true);
      let attachmentId: number | null = null;
      const seenBeforeEnd: number[] = [];
      async function* recording() {
        let sent = 0;
        for (const piece of pieces) {
          yield piece;
          sent += (piece as Blob).size;
          // The next piece is "recorded" only once the server holds everything so far.
          for (let wait = 0; ; wait += 1) {
            assert.ok(wait < 200, 'the piece did not reach the server');
            if (attachmentId !== null) {
              const attachment = await client.attachment(attachmentId);
              if (attachment.received === sent) {
                assert.equal(attachment.size, null, 'the size is unknown while recording');
                seenBeforeEnd.push(attachment.received);
                break;
              }
            }
            await delay(10);
          }
        }
      }
      const progress: Array<{ acknowledgedBytes: number; totalBytes: number; etaSeconds: number | null }> = [];
      const result = await upload(recording(), {
        client,
        filename: 'memo.webm',
        onAttachment: (attachment) => void (attachmentId = attachment.id),
        onProgress: (p) => progress.push(p),
      });
      assert.equal(seenBeforeEnd.length, pieces.length);
      assert.equal(result.size, data.length);
      assert.equal(result.fingerprint, sha1(data));
      assert.equal(result.attachment.size, data.length);
      assert.equal(result.attachment.complete, true);
      assert.equal(result.bytesSent, data.length);
      assert.ok(progress.slice(0, -1).every((p) => p.etaSeconds === null || p.totalBytes === data.length), 'no ETA while the source may grow');
      assert.equal(progress.at(-1)?.acknowledgedBytes, data.length);

      const { clip } = await client.createClip({ title: 'recorded', audio: { chunked_attachment_id: result.attachmentId, fingerprint: result.fingerprint } });
      assert.equal(clip.audio.content_type, 'audio/webm');
      assert.ok(Math.abs((clip.duration ?? 0) - 1) < 0.05, `duration ${clip.duration}`);
    });

    test('a ReadableStream of bytes through a failing network, several chunks at once', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 77);
      const proxy = await FaultProxy.start(server.url, {
        seed: 77,
        odds: { cut: 0.2, reset: 0.1, stall: 0.05, unavailable: 0.1 },
        maxFaults: 20,
        maxBytesBeforeFault: 128 * 1024,
        stallMs: 1000,
        retryAfterSeconds: 0,
      });
      try {
        const pieces = piecesOf(data, [100_000, 333_333, 1, 250_000], false);
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await delay(2);
            const piece = pieces.shift();
            if (piece === undefined) controller.close();
            else controller.enqueue(piece as Uint8Array);
          },
        });
        let retries = 0;
        const result = await upload(stream, { ...QUICK, server: proxy.url, token: user.token, onRetry: () => (retries += 1) });
        assert.equal(result.fingerprint, sha1(data));
        assert.equal(result.size, data.length);
        assert.ok(proxy.stats.faults.cut + proxy.stats.faults.reset + proxy.stats.faults.stall + proxy.stats.faults.unavailable > 0, 'faults happened');
        assert.ok(retries > 0);
      } finally {
        await proxy.close();
      }
    });

    test('a source read again from its start continues the same attachment, sending only what is missing', async () => {
      const data = randomBytes(400_000);
      const first = new AbortController();
      let attachmentId: number | undefined;
      // The first run stops after 250,000 bytes were acknowledged, as a killed process would.
      async function* partly() {
        yield data.subarray(0, 150_000);
        yield data.subarray(150_000, 250_000);
        for (;;) {
          const attachment = attachmentId === undefined ? null : await client.attachment(attachmentId);
          if (attachment?.received === 250_000) break;
          await delay(10);
        }
        first.abort(new Error('stopped'));
        yield data.subarray(250_000);
      }
      await assert.rejects(upload(partly(), { client, signal: first.signal, onAttachment: (a) => void (attachmentId = a.id) }), /stopped/);
      async function* whole() {
        yield data.subarray(0, 200_000);
        yield data.subarray(200_000);
      }
      const again = await upload(whole(), { client, attachmentId });
      assert.equal(again.resumed, true);
      assert.equal(again.attachmentId, attachmentId);
      assert.equal(again.fingerprint, sha1(data));
      assert.ok(again.bytesSent <= 200_000 + 64 * 1024, `sent ${again.bytesSent} bytes again`);
    });

    test('an empty source is an error, and no size is fixed', async () => {
      await assert.rejects(upload((async function* () {})(), { client }), /without a byte/);
    });
  });
}
