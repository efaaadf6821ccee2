/**
 * SIGTERM with chunks in flight (SPEC 6): a chunk that finishes within SHUTDOWN_GRACE is
 * answered (with `Connection: close`), a stalled one is cut when the grace ends and keeps the
 * bytes it fully wrote, the server logs "stopped" and exits 0; a second signal stops at once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createAttachment, newUser, randomFile, request } from '../helpers/client.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const SIZE = 1_000_000;

/** A raw chunk PUT whose body is sent by the caller, piece by piece. */
function openChunk(base: string, token: string, id: number, length: number): { req: ClientRequest; answer: Promise<IncomingMessage | Error> } {
  const req = httpRequest(`${base}/attachments/${id}?attachment[chunk_offset]=0`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(length) },
  });
  const answer = new Promise<IncomingMessage | Error>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res);
    });
    req.on('error', resolve);
  });
  return { req, answer };
}

async function received(base: string, token: string, id: number): Promise<number> {
  return (await request(base, 'GET', `/attachments/${id}`, { token })).json.body.attachment.received_bytes;
}

async function waitFor(what: string, check: () => Promise<boolean>, server: ServerProcess): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await check()) return;
    await delay(25);
  }
  assert.fail(`${what} did not happen within 10 s; server output:\n${server.output()}`);
}

describe('shutdown', () => {
  test('SIGTERM: a chunk finishing in the grace is answered, a stalled one is cut and keeps its written prefix', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-shutdown-'));
    const env = { DATA_DIR: dataDir, PASSWORD_HASH_LOG2N: '10', MIN_FREE_BYTES: '0', SHUTDOWN_GRACE: '2', LOG_LEVEL: 'info' };
    let server = await startServerProcess(env);
    try {
      const { token } = await newUser(server.base, 'shutdown');
      const file = randomFile(SIZE);
      const finishing = await createAttachment(server.base, token, SIZE);
      const stalled = await createAttachment(server.base, token, SIZE);
      const late = openChunk(server.base, token, finishing, SIZE);
      const stall = openChunk(server.base, token, stalled, SIZE);
      late.req.write(file.subarray(0, 100_000));
      stall.req.write(file.subarray(0, 300_000));
      // The server holds the bytes sent so far (the in-place receiver writes them as they arrive).
      await delay(300);

      const started = Date.now();
      server.child.kill('SIGTERM');
      await waitFor('the stopping log line', async () => server.output().includes('stopping'), server);
      late.req.end(file.subarray(100_000));
      const answer = await late.answer;
      assert.ok(!(answer instanceof Error), `the chunk finished in the grace failed: ${String(answer)}`);
      assert.equal(answer.statusCode, 200);
      assert.equal(answer.headers.connection, 'close');

      const exit = await server.exited;
      const took = Date.now() - started;
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());
      assert.ok(took >= 1900 && took < 15_000, `stopped after ${took} ms with a 2 s grace`);
      assert.ok(await stall.answer instanceof Error, 'the stalled chunk was cut');
      const lines = server.output().trim().split('\n');
      assert.match(lines.at(-1)!, /"msg":"stopped"/, server.output());
      assert.doesNotMatch(server.output(), /EBADF|"level":50/);

      server = await startServerProcess(env);
      assert.equal(await received(server.base, token, finishing), SIZE);
      assert.equal(await received(server.base, token, stalled), 300_000, 'the cut chunk keeps exactly what it wrote');
    } finally {
      await server.kill9();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a second SIGTERM stops at once, without waiting for the grace', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-shutdown-'));
    const server = await startServerProcess({ DATA_DIR: dataDir, PASSWORD_HASH_LOG2N: '10', MIN_FREE_BYTES: '0', SHUTDOWN_GRACE: '60', LOG_LEVEL: 'info' });
    try {
      const { token } = await newUser(server.base, 'shutdown2');
      const id = await createAttachment(server.base, token, SIZE);
      const stall = openChunk(server.base, token, id, SIZE);
      stall.req.write(randomFile(1000));
      await delay(200);
      server.child.kill('SIGTERM');
      await waitFor('the stopping log line', async () => server.output().includes('stopping'), server);
      const started = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      assert.ok(Date.now() - started < 5000, 'the second signal did not stop the server at once');
      assert.equal(exit.code, 143, server.output());
      await stall.answer;
    } finally {
      await server.kill9();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
