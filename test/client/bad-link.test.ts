/**
 * The SDK over the link emulator (a phone's link: shared rates, a modem buffer, delay and
 * scheduled outages): uploads and downloads through handovers that reset every connection and
 * a stall that silences them without a reset end byte-exact; an offline spell is waited out
 * and reported in progress events, until the caller's deadline. A few seconds of link each.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { downloadTo, memorySink, TrickleClient, TrickleTimeoutError, upload, withRetries, type UploadProgress } from '../../src/client/node.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, sha1 } from '../helpers/client.js';
import { LinkEmulator, type LinkProfile } from '../helpers/link-emulator.js';
import { wavHeader } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const KiB = 1024;
/** Fast enough that a few MB take a few seconds; the outages are what the test is about. */
const LINK: LinkProfile = { upBytesPerSecond: 1_000_000, downBytesPerSecond: 2_000_000, delayMs: 20, upBufferBytes: 32 * KiB, downBufferBytes: 64 * KiB };
/** A loaded machine may be slow; a hung transfer still fails the test. */
const PATIENCE = 90_000;

function audioFile(size: number): Buffer {
  return Buffer.concat([wavHeader(size - 44), randomBytes(size - 44)]);
}

for (const kind of databaseKinds()) {
  describe(`SDK over a bad link on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let user: { token: string; id: number; username: string };
    let direct: TrickleClient;

    before(async () => {
      // A request gone silent is cut off by the server after 2 s, so the range it held frees soon.
      server = await startServer(kind, { maxOpenAttachments: 1000, uploadIdleTimeoutSeconds: 2 });
      user = await newUser(server.url, 'phone');
      direct = new TrickleClient({ server: server.url, token: user.token });
    });
    after(() => server.close());

    test('an upload through handovers and a silent stall ends byte-exact', async (t) => {
      const data = audioFile(2_500_000);
      const link = await LinkEmulator.start(server.url, {
        ...LINK,
        outages: [
          { atMs: 700, durationMs: 500, kind: 'reset' },
          { atMs: 1800, durationMs: 0, kind: 'silent' },
          { atMs: 2800, durationMs: 400, kind: 'reset' },
        ],
      });
      try {
        const states = new Set<UploadProgress['state']>();
        const result = await upload(data, { server: link.url, token: user.token, state: false, signal: AbortSignal.timeout(PATIENCE), onProgress: (p) => void states.add(p.state) });
        assert.equal(result.fingerprint, sha1(data));
        assert.equal((await direct.attachment(result.attachmentId)).sha1, sha1(data));
        const stats = link.stats;
        t.diagnostic(`${(link.elapsedMs() / 1000).toFixed(1)} s, link bytes ${(stats.upBytes / data.length).toFixed(2)}x (${stats.upLostBytes} lost), ${stats.resets} resets, ${stats.silenced} silenced`);
        assert.ok(stats.resets >= 1 && stats.silenced >= 1, 'the outages struck open connections');
        assert.ok(states.has('waiting for network'), `states: ${[...states].join(', ')}`);
        assert.ok(stats.upBytes < 2 * data.length, `${stats.upBytes} bytes on the link for ${data.length}`);
      } finally {
        await link.close();
      }
    });

    test('a download cut by handovers and a silent stall continues where it stopped', async (t) => {
      const data = audioFile(3_000_000);
      const stored = await upload(data, { client: direct, state: false });
      // The server drops idle connections after 2 s here: a kept-alive one may be gone, so the create is retried (its uuid makes that safe).
      const clipRequest = { title: 'bad link', audio: { chunked_attachment_id: stored.attachmentId, fingerprint: stored.fingerprint }, uuid: randomUUID() };
      const { clip } = await withRetries(() => direct.createClip(clipRequest));
      const link = await LinkEmulator.start(server.url, {
        ...LINK,
        outages: [
          { atMs: 500, durationMs: 400, kind: 'reset' },
          { atMs: 1200, durationMs: 0, kind: 'silent' },
        ],
      });
      try {
        const sink = memorySink();
        const result = await downloadTo(new TrickleClient({ server: link.url }), clip.urls.audio, sink, { signal: AbortSignal.timeout(PATIENCE), expectedSha1: sha1(data) });
        assert.equal(result.sha1, sha1(data));
        assert.equal(sha1(Buffer.from(sink.bytes())), sha1(data));
        const stats = link.stats;
        t.diagnostic(`${result.requests} requests, ${(link.elapsedMs() / 1000).toFixed(1)} s, link bytes ${(stats.downBytes / data.length).toFixed(2)}x, ${stats.resets} resets, ${stats.silenced} silenced`);
        assert.ok(result.requests >= 2, 'the transfer was cut and continued');
        assert.ok(stats.downBytes < 1.5 * data.length, `${stats.downBytes} bytes on the link for ${data.length}: continued, not started over`);
      } finally {
        await link.close();
      }
    });

    test('offline at the start: the wait is reported with its next try, and the deadline ends it', async () => {
      const link = await LinkEmulator.start(server.url, { ...LINK, outages: [{ atMs: 0, durationMs: 2000, kind: 'reset' }] });
      try {
        const waits: Array<number | null> = [];
        const started = Date.now();
        const data = audioFile(100_000);
        const result = await upload(data, {
          server: link.url,
          token: user.token,
          state: false,
          signal: AbortSignal.timeout(PATIENCE),
          onProgress: (p) => {
            if (p.state === 'waiting for network') waits.push(p.nextTryAt);
          },
        });
        assert.equal(result.fingerprint, sha1(data));
        assert.ok(Date.now() - started >= 1900, 'it waited for the link');
        assert.ok(waits.length > 0 && waits.every((at) => at !== null && at >= started), `waits: ${JSON.stringify(waits)}`);

        link.restart({ ...LINK, outages: [{ atMs: 0, durationMs: 600_000, kind: 'reset' }] });
        const deadline = Date.now() + 1500;
        await assert.rejects(upload(data, { server: link.url, token: user.token, state: false, deadline, signal: AbortSignal.timeout(PATIENCE) }), TrickleTimeoutError);
        assert.ok(Date.now() - deadline < 5000, 'the deadline ended the wait');
      } finally {
        await link.close();
      }
    });
  });
}
