/**
 * The SDK's resumable upload against the real server, through a proxy that cuts, resets and
 * stalls connections and answers 503: every upload must end byte-exact with its fingerprint.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StateStore, TrickleApiError, TrickleClient, upload, type UploadOptions } from '../../src/client/node.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, sha1 } from '../helpers/client.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { wavHeader } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Small chunks and quick retries, so that a few MiB make many requests and faults. */
const QUICK: Partial<UploadOptions> = {
  chunkSizing: { initial: 64 * 1024, min: 16 * 1024, max: 512 * 1024, targetMs: 200 },
  retry: { retries: 30, baseDelayMs: 5, maxDelayMs: 100 },
};

/** A WAV file of `size` bytes whose samples are random: real audio to the prober, unique bytes to the hash. */
function audioFile(size: number): Buffer {
  return Buffer.concat([wavHeader(size - 44), randomBytes(size - 44)]);
}

for (const kind of databaseKinds()) {
  describe(`SDK uploads on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let user: { token: string; id: number; username: string };
    let workDir: string;

    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 1000 });
      user = await newUser(server.url, 'sdk');
      workDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-sdk-'));
    });
    after(async () => {
      await server.close();
      await rm(workDir, { recursive: true, force: true });
    });

    test('uploads through cuts, resets, stalls and 503s end byte-exact', async (t) => {
      const sources = ['bytes', 'blob', 'path'] as const;
      let retries = 0;
      let faults = 0;
      // Faults strike per connection, and the SDK keeps its connections: six rounds at least, more
      // (up to twelve) until enough faults have struck.
      for (let round = 0; round < 12 && (round < 6 || faults < 20); round += 1) {
        const proxy = await FaultProxy.start(server.url, {
          seed: 1000 + round,
          odds: { cut: 0.25, reset: 0.1, stall: 0.1, unavailable: 0.1 },
          maxFaults: 25,
          maxBytesBeforeFault: 256 * 1024,
          stallMs: 1500,
          retryAfterSeconds: 0,
        });
        try {
          const data = audioFile(1024 * 1024 + Math.floor(Math.random() * 2 * 1024 * 1024));
          const kindOfSource = sources[round % sources.length];
          let source: string | Blob | Buffer = data;
          if (kindOfSource === 'blob') source = new Blob([data]);
          if (kindOfSource === 'path') {
            source = path.join(workDir, `round-${round}.wav`);
            await writeFile(source, data);
          }
          const result = await upload(source, {
            ...QUICK,
            server: proxy.url,
            token: user.token,
            state: false,
            onRetry: () => (retries += 1),
          });
          assert.equal(result.fingerprint, sha1(data), `round ${round} (${kindOfSource})`);
          assert.equal(result.size, data.length);
          assert.equal(result.attachment.state, 'complete');
          faults += Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0);

          // The bytes themselves, through a clean connection: make a clip of them and read it back.
          const direct = new TrickleClient({ server: server.url, token: user.token });
          const { clip } = await direct.createClip({ title: `round ${round}`, audio: { chunked_attachment_id: result.attachmentId, fingerprint: result.fingerprint } });
          const served = Buffer.from(await (await direct.download(clip.urls.audio)).arrayBuffer());
          assert.equal(sha1(served), sha1(data));
          assert.equal(clip.audio.sha1, result.fingerprint);
        } finally {
          await proxy.close();
        }
      }
      // Some faults strike connections that were idle anyway; most must have hit a request.
      t.diagnostic(`${faults} faults injected, ${retries} requests retried`);
      assert.ok(faults >= 20 && retries >= faults / 4, `${faults} faults, ${retries} retries`);
    });

    test('an aborted upload resumes and sends only what the server lacks', async () => {
      const data = audioFile(6 * 1024 * 1024);
      const client = new TrickleClient({ server: server.url, token: user.token });
      const stop = new AbortController();
      let attachmentId: number | undefined;
      let acknowledgedAtAbort = 0;
      const first = upload(data, {
        ...QUICK,
        client,
        concurrency: 2,
        chunkSizing: { initial: 256 * 1024, min: 256 * 1024, max: 256 * 1024 },
        signal: stop.signal,
        onAttachment: (attachment) => void (attachmentId = attachment.id),
        onProgress: (progress) => {
          if (progress.acknowledgedBytes >= data.length / 2 && !stop.signal.aborted) {
            acknowledgedAtAbort = progress.acknowledgedBytes;
            stop.abort(new Error('user stopped'));
          }
        },
      });
      await assert.rejects(first, /user stopped/);
      assert.ok(attachmentId !== undefined);
      const held = await client.attachment(attachmentId);
      assert.ok(held.received_bytes >= acknowledgedAtAbort && !held.complete);

      const second = await upload(data, { ...QUICK, client, attachmentId });
      assert.equal(second.resumed, true);
      assert.equal(second.attachmentId, attachmentId);
      assert.equal(second.fingerprint, sha1(data));
      assert.ok(second.bytesSent <= data.length - held.received_bytes, `re-sent ${second.bytesSent} bytes for ${data.length - held.received_bytes} missing`);
    });

    test('a file path upload remembers its attachment across processes', async () => {
      const data = audioFile(3 * 1024 * 1024);
      const file = path.join(workDir, 'remembered.wav');
      await writeFile(file, data);
      const state = new StateStore(path.join(workDir, 'state'));
      const stop = new AbortController();
      let attachmentId: number | undefined;
      const options = { ...QUICK, server: server.url, token: user.token, state, concurrency: 1, chunkSizing: { initial: 128 * 1024, min: 128 * 1024, max: 128 * 1024 } };
      await assert.rejects(
        upload(file, {
          ...options,
          signal: stop.signal,
          onAttachment: (attachment) => void (attachmentId = attachment.id),
          onProgress: (progress) => progress.acknowledgedBytes > data.length / 3 && stop.abort(new Error('killed')),
        }),
        /killed/,
      );
      const resumed = await upload(file, options);
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.attachmentId, attachmentId);
      assert.equal(resumed.fingerprint, sha1(data));
      assert.ok(resumed.bytesSent < data.length * 0.7);
      // Done: the record is gone, so the same file uploads afresh next time.
      const again = await upload(file, options);
      assert.equal(again.resumed, false);
      assert.notEqual(again.attachmentId, attachmentId);
    });

    test('a 503 with Retry-After is waited out; other 4xx fail at once with their SPEC name', async () => {
      const proxy = await FaultProxy.start(server.url, { seed: 7, odds: { unavailable: 1 }, maxFaults: 1, retryAfterSeconds: 1 });
      try {
        const delays: number[] = [];
        const result = await upload(audioFile(100_000), { ...QUICK, server: proxy.url, token: user.token, onRetry: (_error, delay) => delays.push(delay) });
        assert.equal(result.size, 100_000);
        assert.equal(delays.length, 1);
        assert.ok(delays[0]! >= 1000, `waited ${delays[0]} ms`);
      } finally {
        await proxy.close();
      }

      let retries = 0;
      const onRetry = () => (retries += 1);
      const unauthorised = upload(audioFile(1000), { ...QUICK, server: server.url, token: 'not-a-token', onRetry });
      await assert.rejects(unauthorised, (error: unknown) => error instanceof TrickleApiError && error.status === 401 && error.errorName === 'invalid_token');
      const huge = { size: 3 * 1024 ** 3, name: 'huge.wav', read: () => Promise.reject(new Error('nothing is read before the create succeeds')) };
      const tooBig = upload(huge, { ...QUICK, server: server.url, token: user.token, onRetry });
      await assert.rejects(tooBig, (error: unknown) => error instanceof TrickleApiError && error.status === 413 && error.errorName === 'attachment_too_large');
      assert.equal(retries, 0);
    });
  });
}
