/**
 * `npm run bench:s3`: Trickle on S3-compatible storage against the object store's own ceiling,
 * plain PutObject requests of the same sizes to the same server, and the relay floor (a bare
 * node:http server streaming each chunk into one PutObject, bench/s3-relay-program.ts: the least
 * a server between the client and the store can do), in one run with the three taking turns;
 * and how long completing a big upload takes after its last byte, in order and shuffled.
 *
 * Uses the S3 server that TEST_S3_* names, or starts the test one (scripts/s3-test-server.sh).
 *   --runs N       runs per figure, median reported (default 5)
 *   --size BYTES   bytes per throughput run (default 128m)
 *   --big BYTES    the upload whose completion is timed (default 1g)
 *   --server-js PATH  test an existing build instead of building src/ into .bench/dist
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildS3Relay, buildTrickle } from './build.js';
import { bufferBody, expectStatus, send } from './http-client.js';
import { MiB } from './options.js';
import { spawnWithDataDir } from './server-process.js';
import { median } from './stats.js';
import { attachmentOf, authHeader, createAttachment, trickleLogin, type TrickleClient } from './trickle-api.js';

const ROOT = path.join(import.meta.dirname, '..');

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const match = /^([0-9]+)([kmg]?)$/i.exec(process.argv[at + 1] ?? '');
  if (!match) throw new Error(`${name} needs a number (k, m, g allowed)`);
  return Number(match[1]) * ({ '': 1, k: 1024, m: MiB, g: 1024 * MiB }[match[2]!.toLowerCase()] ?? 1);
}

function s3Env(): { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string } {
  if (!process.env.TEST_S3_ENDPOINT) {
    const printed = execFileSync('bash', [path.join(ROOT, 'scripts', 's3-test-server.sh'), 'start'], { encoding: 'utf8' });
    for (const [, key, value] of printed.matchAll(/export (\w+)=(\S+)/g)) process.env[key!] = value!;
  }
  return {
    endpoint: process.env.TEST_S3_ENDPOINT!,
    bucket: process.env.TEST_S3_BUCKET ?? 'trickle-test',
    accessKeyId: process.env.TEST_S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? '',
  };
}

/** Seconds to send `total` bytes as sequential PutObject requests of `chunk` bytes (then deleted). */
async function putObjects(client: S3Client, bucket: string, total: number, chunk: Buffer): Promise<number> {
  const keys: string[] = [];
  const started = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    const Key = `bench-put/${crypto.randomUUID()}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: chunk, ContentLength: chunk.length }));
    keys.push(Key);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
  return seconds;
}

/** Seconds to send `total` bytes through the relay floor as sequential requests of `chunk` bytes (then deleted). */
async function relayPuts(agent: http.Agent, baseUrl: string, total: number, chunk: Buffer): Promise<number> {
  const keys: string[] = [];
  const started = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    const reply = expectStatus(await send(agent, `${baseUrl}/piece`, 'PUT', { 'content-type': 'application/octet-stream' }, bufferBody(chunk)), 200, 'relay PUT');
    keys.push((JSON.parse(reply.body) as { key: string }).key);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const key of keys) expectStatus(await send(agent, `${baseUrl}/piece?key=${encodeURIComponent(key)}`, 'DELETE', {}), 200, 'relay DELETE');
  return seconds;
}

/** Sends a `total`-byte upload in chunks of `chunk` bytes in the given order; resolves each request's seconds (last = the completing one). */
async function trickleUpload(client: TrickleClient, total: number, chunk: Buffer, order: number[] | null): Promise<number[]> {
  const { id } = await createAttachment(client, total);
  const offsets = order ?? Array.from({ length: Math.ceil(total / chunk.length) }, (_, i) => i);
  const times: number[] = [];
  let last = null;
  for (const index of offsets) {
    const offset = index * chunk.length;
    const body = chunk.subarray(0, Math.min(chunk.length, total - offset));
    const started = performance.now();
    const url = `${client.baseUrl}/attachments/${id}?attachment%5Bchunk_offset%5D=${offset}`;
    last = await send(client.agent, url, 'PUT', { ...authHeader(client.token), 'content-type': 'application/octet-stream' }, bufferBody(body));
    expectStatus(last, 200, 'PUT chunk');
    times.push((performance.now() - started) / 1000);
  }
  if (last && attachmentOf(last.body, 'last chunk').state !== 'complete') throw new Error('the upload did not complete with its last chunk');
  expectStatus(await send(client.agent, `${client.baseUrl}/attachments/${id}`, 'DELETE', authHeader(client.token)), 204, 'DELETE');
  return times;
}

async function main(): Promise<void> {
  const runs = option('--runs', 5);
  const size = option('--size', 128 * MiB);
  const big = option('--big', 1024 * MiB);
  const s3 = s3Env();
  const tempRoot = await mkdtemp(path.join(os.tmpdir(), 'trickle-bench-s3-'));
  // --server-js: an existing build (e.g. an older commit's) instead of building src/.
  const given = process.argv.indexOf('--server-js');
  const serverJs = given >= 0 ? path.resolve(process.argv[given + 1]!) : await buildTrickle(ROOT, path.join(ROOT, '.bench', 'dist'));
  const prefix = `bench-${Date.now()}`;
  const server = await spawnWithDataDir(tempRoot, 'trickle-s3', (dataDir, port) => ({
    name: 'trickle (S3)',
    args: ['--max-semi-space-size=1', serverJs],
    env: {
      PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', MIN_FREE_BYTES: '0',
      MAX_ATTACHMENT_SIZE: String(4 * 1024 * MiB), REGISTRATION_RATE_LIMIT: '0', TOKEN_RATE_LIMIT: '0',
      STORAGE_URL: `s3://${s3.bucket}/${prefix}`, S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    },
    port,
    healthPath: '/healthz',
  }));
  const relayJs = await buildS3Relay(ROOT, path.join(ROOT, '.bench', 's3-relay'));
  const relay = await spawnWithDataDir(tempRoot, 's3-relay', (_dataDir, port) => ({
    name: 'S3 relay',
    args: [relayJs],
    env: {
      PORT: String(port), S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_PREFIX: `${prefix}-relay`,
      AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    },
    port,
    healthPath: '/healthz',
  }));
  const agent = new http.Agent({ keepAlive: true });
  const client: TrickleClient = { agent, baseUrl: server.baseUrl, token: await trickleLogin(agent, server.baseUrl) };
  const s3Client = new S3Client({
    endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', expectContinueHeader: false,
  });
  try {
    console.log(`S3 at ${s3.endpoint}; ${runs} runs of ${size / MiB} MiB per figure, taking turns\n`);
    // Trickle's chunks are timed without the last one, which also completes the upload (SHA1,
    // assembly): that is timed apart, since plain PutObject requests make no file of the pieces.
    console.log('| chunk | PutObject MiB/s | relay floor MiB/s | Trickle chunks MiB/s | Trickle vs PutObject | relay vs PutObject | Trickle vs relay | completing the upload (s) |\n|---|---|---|---|---|---|---|---|');
    for (const chunkSize of [8 * MiB, 256 * 1024]) {
      const chunk = randomBytes(chunkSize);
      const put: number[] = [];
      const relayed: number[] = [];
      const trickle: number[] = [];
      const completion: number[] = [];
      for (let run = 0; run < runs; run += 1) {
        put.push(size / MiB / (await putObjects(s3Client, s3.bucket, size, chunk)));
        relayed.push(size / MiB / (await relayPuts(agent, relay.baseUrl, size, chunk)));
        const times = await trickleUpload(client, size, chunk, null);
        trickle.push((size - chunkSize) / MiB / times.slice(0, -1).reduce((a, b) => a + b, 0));
        completion.push(times.at(-1)!);
      }
      const [p, r, t] = [median(put)!, median(relayed)!, median(trickle)!];
      console.log(
        `| ${chunkSize / 1024} KiB | ${p.toFixed(1)} | ${r.toFixed(1)} | ${t.toFixed(1)} | ${(t / p).toFixed(2)}x | ${(r / p).toFixed(2)}x | ${(t / r).toFixed(2)}x | ${median(completion)!.toFixed(3)} |`,
      );
    }

    console.log(`\nCompleting a ${big / MiB} MiB upload of 8 MiB chunks: the last chunk's request against the median one`);
    console.log('| order | median chunk s | last chunk s (hash + assembly) |\n|---|---|---|');
    const chunk = randomBytes(8 * MiB);
    const count = Math.ceil(big / chunk.length);
    for (const [name, order] of [['in order', null], ['shuffled', Array.from({ length: count }, (_, i) => i).sort(() => Math.random() - 0.5)]] as const) {
      const times = await trickleUpload(client, big, chunk, order);
      console.log(`| ${name} | ${median(times.slice(0, -1))!.toFixed(3)} | ${times.at(-1)!.toFixed(3)} |`);
    }
  } finally {
    agent.destroy();
    s3Client.destroy();
    await server.stop();
    await relay.stop();
    await rm(tempRoot, { recursive: true, force: true });
  }
}

await main();
