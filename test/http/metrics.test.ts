/**
 * GET /metrics after real uploads: requests by route and status, bytes, chunks, completions;
 * and its protection: a bearer token (METRICS_TOKEN), a listener of its own (METRICS_PORT).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The value of one sample line, e.g. `trickle_chunks_accepted_total 2`. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  assert.ok(line, `no sample ${name}{${labels}} in:\n${text.slice(0, 2000)}`);
  return Number(line.split(' ').at(-1));
}

describe('metrics', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
  });
  after(() => server.close());

  test('an upload shows in the request, byte, chunk and completion counters', async () => {
    const { token } = await newUser(server.url, 'metrics');
    const file = randomFile(300_000);
    const id = await createAttachment(server.url, token, file.length);
    assert.equal((await putRaw(server.url, token, id, 0, file.subarray(0, 100_000))).status, 200);
    const wrongSha = `&attachment[chunk_sha1]=${sha1(Buffer.from('other'))}`;
    assert.equal((await putRaw(server.url, token, id, 100_000, file.subarray(100_000), wrongSha)).status, 422);
    assert.equal((await putRaw(server.url, token, id, 100_000, file.subarray(100_000))).status, 200);

    const reply = await fetch(`${server.url}/metrics`);
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await reply.text();
    assert.equal(sample(text, 'trickle_http_requests_total', 'method="PUT",route="/attachments/:id",status="200"'), 2);
    assert.equal(sample(text, 'trickle_http_requests_total', 'method="PUT",route="/attachments/:id",status="422"'), 1);
    assert.equal(sample(text, 'trickle_http_request_duration_seconds_count', 'method="POST",route="/attachments",status="201"'), 1);
    assert.ok(sample(text, 'trickle_http_received_bytes_total') >= 2 * file.length - 100_000, 'bytes received');
    assert.equal(sample(text, 'trickle_chunks_accepted_total'), 2);
    assert.equal(sample(text, 'trickle_chunks_rejected_total', 'reason="chunk_checksum_mismatch"'), 1);
    assert.equal(sample(text, 'trickle_attachments_completed_total'), 1);
    assert.equal(sample(text, 'trickle_chunk_requests_in_flight'), 0);
    assert.equal(sample(text, 'trickle_uploads_in_flight'), 0, 'the deprecated name stays');
    assert.match(text, /^# TYPE trickle_media_jobs gauge$/m);
    assert.ok(sample(text, 'process_resident_memory_bytes') > 0, 'process metrics');
    const status = await request(server.url, 'GET', `/attachments/${id}`, { token });
    assert.equal(status.json.body.attachment.complete, true);
  });
});

describe('metrics behind a token (METRICS_TOKEN)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(databaseKinds()[0]!, { metricsToken: 'scrape-secret' });
  });
  after(() => server.close());

  test('401 without the token or with another, 200 with it', async () => {
    const none = await request(server.url, 'GET', '/metrics');
    assert.equal(none.status, 401);
    assert.equal(none.json.body.error.name, 'authentication_required');
    const wrong = await request(server.url, 'GET', '/metrics', { token: 'scrape-secreT' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.body.error.name, 'invalid_token');
    const right = await request(server.url, 'GET', '/metrics', { token: 'scrape-secret' });
    assert.equal(right.status, 200);
    assert.match(right.text, /^# TYPE trickle_http_requests_total counter$/m);
  });
});

describe('metrics on a port of their own (METRICS_PORT)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let metricsPort: number;
  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-metrics-'));
    metricsPort = await freePort();
    server = await startServerProcess({ DATA_DIR: dataDir, MIN_FREE_BYTES: '0', METRICS_PORT: String(metricsPort), METRICS_TOKEN: 'scrape-secret', LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await server?.kill9();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('the API port does not answer /metrics; the metrics port does, with the token', async () => {
    assert.equal((await fetch(`${server.base}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } })).status, 404);
    const base = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^# TYPE process_resident_memory_bytes gauge$/m);
    assert.equal((await fetch(`${base}/users`, { headers: { authorization: 'Bearer scrape-secret' } })).status, 404, 'nothing but /metrics there');
  });
});
