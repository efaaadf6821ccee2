/**
 * Readiness and liveness (SPEC 6): /readyz answers 200 only while the database and the storage
 * both answer, 503 `not_ready` naming the one that does not within a few seconds otherwise, and
 * 200 again once it is back; /healthz stays 200 meanwhile. A frozen S3 (a proxy in front of the
 * shared test server that stops forwarding, as a server under SIGSTOP does) also turns a
 * download and an upload into a prompt 503 `storage_unavailable` instead of a hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { databaseKinds, s3Settings, type DatabaseKind } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, request } from '../helpers/client.js';
import { FreezableProxy } from '../helpers/freezable-proxy.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const sqlite = databaseKinds()[0]!;
/** The spec's "within a few seconds", with margin for a loaded machine. */
const READY_ANSWER_MS = 5000;

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await run();
  return { value, ms: Date.now() - started };
}

async function readyz(base: string) {
  return timed(() => request(base, 'GET', '/readyz'));
}

/** Polls /readyz until it answers 200 (bounded). */
async function becomesReady(base: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if ((await request(base, 'GET', '/readyz')).status === 200) return;
    await delay(100);
  }
  assert.fail('/readyz did not answer 200 again within 10 s');
}

describe('readiness on the local disk and SQLite', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(sqlite);
  });
  after(() => server?.close());

  test('/readyz is 200 with both checks ok, /healthz 200', async () => {
    const { value: ready } = await readyz(server.url);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json.body, { status: 'ready', checks: { database: 'ok', storage: 'ok' } });
    assert.equal(ready.headers.get('cache-control'), 'no-store');
    assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
  });
});

const s3 = s3Settings();
describe('readiness with S3 frozen', { skip: s3 ? false : 'TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh start)' }, () => {
  let proxy: FreezableProxy;
  let server: TestServer;
  before(async () => {
    const endpoint = new URL(process.env.TEST_S3_ENDPOINT!);
    proxy = await FreezableProxy.start({ host: endpoint.hostname, port: Number(endpoint.port) });
    const kind: DatabaseKind = { ...sqlite, storage: () => ({ ...s3!(), S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` }) };
    server = await startServer(kind, { s3TimeoutSeconds: 2, ffmpegPath: '/nonexistent/ffmpeg' });
  });
  after(async () => {
    proxy?.thaw();
    await server?.close();
    await proxy?.close();
  });

  test('503 naming the storage within 5 s, downloads and uploads 503 storage_unavailable, then 200 again', { timeout: 120_000 }, async () => {
    const { token } = await newUser(server.url, 'frozen');
    const wav = fixture('tone.wav');
    const clip = await request(server.url, 'POST', '/audio_clips', { token, multipart: [['audio_clip[title]', 'before'], ['audio_clip[uploaded_data]', wav, 'tone.wav']] });
    assert.equal(clip.status, 201, clip.text);
    const audio = `/audio_clips/${clip.json.body.audio_clip.id}/audio`;
    assert.equal((await readyz(server.url)).value.status, 200);

    proxy.freeze();
    const { value: notReady, ms } = await readyz(server.url);
    assert.equal(notReady.status, 503, notReady.text);
    assert.ok(ms < READY_ANSWER_MS, `/readyz took ${ms} ms`);
    assert.equal(notReady.json.body.error.name, 'not_ready');
    assert.equal(notReady.json.body.error.details.checks.database, 'ok');
    assert.match(notReady.json.body.error.details.checks.storage, /no answer/);
    assert.equal((await request(server.url, 'GET', '/healthz')).status, 200, 'liveness does not depend on the storage');

    const download = await timed(() => request(server.url, 'GET', audio));
    assert.equal(download.value.status, 503, download.value.text);
    assert.equal(download.value.json.body.error.name, 'storage_unavailable');
    assert.ok(download.ms < 10_000, `the download failed after ${download.ms} ms (S3_TIMEOUT is 2 s)`);

    const id = await createAttachment(server.url, token, 100_000);
    const upload = await timed(() => putRaw(server.url, token, id, 0, randomFile(100_000)));
    assert.equal(upload.value.status, 503, upload.value.text);
    assert.equal(upload.value.json.body.error.name, 'storage_unavailable');
    assert.ok(upload.ms < 60_000, `the upload failed after ${upload.ms} ms`);
    console.log(`# frozen S3 (S3_TIMEOUT=2): /readyz 503 in ${ms} ms, download 503 in ${download.ms} ms, chunk 503 in ${upload.ms} ms`);

    proxy.thaw();
    await becomesReady(server.url);
    const again = await fetch(server.url + audio);
    assert.equal(again.status, 200);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(wav), 'the clip reads whole once S3 is back');
  });
});

const postgres = databaseKinds()[1]!;
describe('readiness with PostgreSQL frozen', { skip: postgres.skip }, () => {
  let proxy: FreezableProxy;
  let server: TestServer;
  before(async () => {
    const admin = new URL(process.env.TEST_DATABASE_URL!);
    proxy = await FreezableProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) });
    const kind: DatabaseKind = {
      ...postgres,
      create: async (dataDir) => {
        const database = await postgres.create(dataDir);
        const url = new URL(database.url);
        url.port = String(proxy.port);
        return { url: url.toString(), drop: database.drop };
      },
    };
    server = await startServer(kind);
  });
  after(async () => {
    proxy?.thaw();
    await server?.close();
    await proxy?.close();
  });

  test('503 naming the database within 5 s, then 200 again', { timeout: 60_000 }, async () => {
    assert.equal((await readyz(server.url)).value.status, 200);
    proxy.freeze();
    const { value: notReady, ms } = await readyz(server.url);
    assert.equal(notReady.status, 503, notReady.text);
    assert.ok(ms < READY_ANSWER_MS, `/readyz took ${ms} ms`);
    assert.match(notReady.json.body.error.details.checks.database, /no answer/);
    assert.equal(notReady.json.body.error.details.checks.storage, 'ok');
    proxy.thaw();
    await becomesReady(server.url);
  });
});
