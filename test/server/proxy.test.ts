/**
 * The example nginx configuration (docs/examples/nginx.conf), run by a real nginx in front of
 * Trickle: tus-js-client uploads through it, a chunk's body reaches Trickle while the client is
 * still sending it (no request buffering), and, with two nodes on PostgreSQL and S3 (the
 * second one a process of its own), tus-js-client and the SDK upload through the proxy while
 * that node is killed (SIGKILL) in the middle of their uploads.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import * as tus from 'tus-js-client';
import { loadConfig, type Config } from '../../src/config.js';
import { databaseKinds, s3Settings, type TestDatabase } from '../helpers/databases.js';
import { upload } from '../../src/client/node.js';
import { createAttachment, newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startNode } from '../helpers/nodes.js';
import { freePort, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const NGINX = '/usr/sbin/nginx';
const EXAMPLE = path.join(import.meta.dirname, '..', '..', 'docs', 'examples', 'nginx.conf');
const COMPOSE = path.join(import.meta.dirname, '..', '..', 'docs', 'examples', 'compose.yaml');
const postgres = databaseKinds()[1]!;
const s3 = s3Settings();
const twoNodes = !postgres.skip && s3 !== undefined;

/** Uploads with tus-js-client (tus 1.0) through `endpoint`; resolves the upload's URL. */
function tusUpload(file: Buffer, endpoint: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint,
      chunkSize: 256 * 1024,
      headers: { authorization: `Bearer ${token}` },
      metadata: { filename: 'through-nginx.bin' },
      // Enough for a killed node: nginx tries it again every fail_timeout (10 s), once per worker.
      retryDelays: [100, 300, 1000, 2000, 3000, 5000, 5000, 5000],
      onError: reject,
      onSuccess: () => resolve(upload.url!),
    });
    upload.start();
  });
}

/** Bytes a node has received in request bodies, from its /metrics. */
async function receivedBytes(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return Number(/^trickle_http_received_bytes_total (\d+)/m.exec(metrics)?.[1] ?? 0);
}

describe('nginx in front of Trickle, as docs/examples/nginx.conf has it', { skip: existsSync(NGINX) ? false : `${NGINX} is not installed (apt-get install nginx)` }, () => {
  let dir: string;
  let nodes: Array<{ url: string; close(): Promise<void> }> = [];
  /** The second node, run as a process of its own so that it can be killed. */
  let second: ServerProcess | null = null;
  let database: TestDatabase | null = null;
  let nginx: ChildProcess;
  let base: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-proxy-'));
    // Two nodes need PostgreSQL and S3; without them one node stands behind both upstream lines.
    let config: Config;
    if (twoNodes) {
      database = await postgres.create(dir);
      const shared = { ...s3!(), DATABASE_URL: database.url };
      config = { ...loadConfig([], { ...shared, DATA_DIR: dir }), passwordHashLog2N: 10, minFreeBytes: 0, logLevel: 'silent', trustProxy: 1 };
      nodes = [await startNode(config)];
      second = await startServerProcess({ ...shared, DATA_DIR: path.join(dir, 'node-2'), PASSWORD_HASH_LOG2N: '10', MIN_FREE_BYTES: '0', LOG_LEVEL: 'silent', TRUST_PROXY: '1' });
      const child = second;
      nodes.push({
        url: child.base,
        close: async () => {
          if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGTERM');
          await child.exited;
        },
      });
    } else {
      config = { ...loadConfig([], { DATA_DIR: dir }), passwordHashLog2N: 10, minFreeBytes: 0, logLevel: 'silent', trustProxy: 1 };
      nodes = [await startNode(config)];
    }
    const ports = nodes.map((node) => new URL(node.url).port);
    const port = await freePort();
    const conf = (await readFile(EXAMPLE, 'utf8'))
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('server 127.0.0.1:8081', `server 127.0.0.1:${ports[0]}`)
      .replace('server 127.0.0.1:8082', `server 127.0.0.1:${ports[1] ?? ports[0]}`);
    await writeFile(path.join(dir, 'nginx.conf'), conf);
    const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', `pid ${dir}/nginx.pid; error_log ${dir}/error.log;`], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;`], { stdio: 'ignore' });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i += 1) {
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return;
      await delay(100);
    }
    assert.fail(`nginx did not answer: ${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
  });
  after(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await new Promise((resolve) => nginx.once('exit', resolve));
    }
    for (const node of nodes) await node.close().catch(() => undefined);
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('tus-js-client uploads through it, byte-exact', async () => {
    const { token } = await newUser(base, 'proxy');
    const file = randomFile(3 * 1024 * 1024 + 123);
    const url = await tusUpload(file, `${base}/files/`, token);
    const id = Number(url.split('/').pop());
    const status = await request(base, 'GET', `/attachments/${id}`, { token });
    assert.equal(status.json.body.attachment.state, 'complete');
    assert.equal(status.json.body.attachment.sha1, sha1(file));
  });

  test('a chunk reaches Trickle while the client is still sending it (no request buffering)', async () => {
    const { token } = await newUser(base, 'stream');
    const size = 1024 * 1024;
    const id = await createAttachment(base, token, size);
    const body = randomFile(size);
    const req = httpRequest(`${base}/attachments/${id}?attachment[chunk_offset]=0`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    req.write(body.subarray(0, 128 * 1024));
    // With the body half sent, some node must already be receiving it.
    let receiving = 0;
    for (let i = 0; i < 100 && receiving === 0; i += 1) {
      await delay(50);
      for (const node of nodes) {
        const metrics = await (await fetch(`${node.url}/metrics`)).text();
        receiving += Number(/^trickle_chunk_requests_in_flight (\d+)/m.exec(metrics)?.[1] ?? 0);
      }
    }
    assert.ok(receiving > 0, 'no node saw the chunk before its body was whole: the proxy buffers request bodies');
    req.end(body.subarray(128 * 1024));
    assert.equal(await answered, 200);
  });

  test('with two nodes, tus-js-client and the SDK upload through it while one node is killed', { skip: twoNodes ? false : 'two nodes need PostgreSQL and S3 (TEST_DATABASE_URL, TEST_S3_ENDPOINT)', timeout: 300_000 }, async () => {
    const { token } = await newUser(base, 'failover');
    const size = 8 * 1024 * 1024;
    const tusFiles = [randomFile(size), randomFile(size + 7)];
    const sdkFiles = [randomFile(size + 13), randomFile(size + 29)];
    let finished = 0;
    const counted = <T>(work: Promise<T>) => work.finally(() => void (finished += 1));
    const tusUploads = tusFiles.map((file) => counted(tusUpload(file, `${base}/files/`, token)));
    const sdkUploads = sdkFiles.map((file) =>
      counted(
        upload(file, {
          server: base,
          token,
          state: false,
          chunkSizing: { initial: 256 * 1024, min: 64 * 1024, max: 256 * 1024 },
          retry: { baseDelayMs: 100, maxDelayMs: 2000 },
          deadline: Date.now() + 240_000,
        }),
      ),
    );
    // Killed once it has taken part of the uploads, with all of them still under way.
    let taken = 0;
    for (let i = 0; i < 600 && taken < 512 * 1024; i += 1) {
      taken = await receivedBytes(second!.base);
      if (taken < 512 * 1024) await delay(50);
    }
    assert.ok(taken >= 512 * 1024, 'the second node received nothing through the proxy');
    assert.equal(finished, 0, 'an upload finished before the kill: the files are too small to show anything');
    await second!.kill9();
    const firstBefore = await receivedBytes(nodes[0]!.url);

    const urls = await Promise.all(tusUploads);
    for (const [i, url] of urls.entries()) {
      const status = await request(base, 'GET', `/attachments/${Number(url.split('/').pop())}`, { token });
      assert.equal(status.json.body.attachment.sha1, sha1(tusFiles[i]!), `tus upload ${i}`);
    }
    for (const [i, result] of (await Promise.all(sdkUploads)).entries()) {
      assert.equal(result.fingerprint, sha1(sdkFiles[i]!), `SDK upload ${i}`);
      const status = await request(base, 'GET', `/attachments/${result.attachmentId}`, { token });
      assert.equal(status.json.body.attachment.sha1, sha1(sdkFiles[i]!), `SDK upload ${i}`);
    }
    const firstAfter = await receivedBytes(nodes[0]!.url);
    console.log(`# node 2 took ${(taken / 1048576).toFixed(1)} MiB before SIGKILL; node 1 then took ${((firstAfter - firstBefore) / 1048576).toFixed(1)} MiB`);
  });
});

// The compose example (which no tool here can run) uses this same file, rewriting its upstream lines.
test('docs/examples/compose.yaml points both upstream lines of nginx.conf at its two nodes', async () => {
  const [conf, compose] = await Promise.all([readFile(EXAMPLE, 'utf8'), readFile(COMPOSE, 'utf8')]);
  for (const [upstream, node] of [['127.0.0.1:8081', 'node1'], ['127.0.0.1:8082', 'node2']]) {
    assert.ok(conf.includes(`server ${upstream} `), `nginx.conf has no upstream ${upstream}`);
    assert.ok(compose.includes(`s/${upstream}/${node}:8080/`), `compose.yaml does not rewrite ${upstream}`);
  }
  assert.match(conf, /^\s*listen 8080;$/m);
  assert.ok(compose.includes('"8080:8080"'));
});
