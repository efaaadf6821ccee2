/** Hostile request shapes are refused with a 4xx, cheaply; secrets never reach the logs. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, statusOfEarlyAnswer, type MultipartEntry } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startServerProcess } from '../helpers/server-process.js';

describe('request limits', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
    token = (await newUser(server.url, 'limits')).token;
  });
  after(() => server.close());

  test('oversized headers answer 431', async () => {
    const reply = await fetch(`${server.url}/healthz`, { headers: { 'x-big': 'a'.repeat(64 * 1024) } });
    assert.equal(reply.status, 431);
  });

  test('JSON and form bodies over 1 MiB answer 413; deep nesting and huge arrays 400', async () => {
    const big = await request(server.url, 'POST', '/attachments', { token, json: { attachment: { size: 5, filename: 'a'.repeat(2 * 1024 * 1024) } } });
    assert.equal(big.status, 413);
    assert.equal(big.json.body.error.name, 'request_too_large');
    const form = await request(server.url, 'POST', '/attachments', { token, form: { 'attachment[size]': '5', pad: 'b'.repeat(2 * 1024 * 1024) } });
    assert.equal(form.status, 413);
    const bomb = await request(server.url, 'POST', '/attachments', { token, json: '['.repeat(500_000) + ']'.repeat(500_000) });
    assert.ok(bomb.status === 400 || bomb.status === 413, `JSON bomb answered ${bomb.status}`);
    const deepForm = await request(server.url, 'POST', '/attachments', { token, form: { ['attachment' + '[a]'.repeat(20)]: '1', 'attachment[size]': '5' } });
    assert.equal(deepForm.status, 400);
    const wideQuery = await request(server.url, 'GET', '/audio_clips?' + Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&'));
    assert.ok(wideQuery.status < 500);
  });

  test('multipart: too many fields, files or parts, or a field too large, answer 413', async () => {
    const fields: MultipartEntry[] = Array.from({ length: 150 }, (_, i) => [`f${i}`, 'x'] as MultipartEntry);
    const many = await request(server.url, 'POST', '/attachments', { token, multipart: [['attachment[size]', '5'], ...fields] });
    assert.equal(many.status, 413, many.text);
    const files: MultipartEntry[] = Array.from({ length: 6 }, (_, i) => [`file${i}`, Buffer.from('x'), `f${i}`] as MultipartEntry);
    const manyFiles = await request(server.url, 'POST', '/audio_clips', { token, multipart: [['audio_clip[title]', 't'], ...files] });
    assert.equal(manyFiles.status, 413, manyFiles.text);
    const boundary = 'limits-boundary';
    const hugeBody = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="attachment[size]"\r\n\r\n5\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="attachment[filename]"\r\n\r\n${'z'.repeat(2 * 1024 * 1024)}\r\n--${boundary}--\r\n`,
    );
    const hugeField = await statusOfEarlyAnswer(server.url, 'POST', '/attachments', { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, hugeBody);
    assert.equal(hugeField, 413);
  });

  test('a body that trickles slower than the idle timeout allows is cut off and frees its region', async () => {
    const slow = await startServer(databaseKinds()[0]!, { uploadIdleTimeoutSeconds: 1 });
    try {
      const user = await newUser(slow.url, 'slow');
      const id = await createAttachment(slow.url, user.token, 1000);
      const { port } = new URL(slow.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(`PUT /attachments/${id}?attachment%5Bchunk_offset%5D=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`);
      socket.write(Buffer.alloc(100, 1));
      await Promise.race([closed, delay(10_000)]);
      assert.ok(socket.destroyed, 'the stalled connection is still open');
      // The region it held is free again: the same bytes can be sent at once. (With a 1 s idle
      // timeout the server also drops the client's pooled connection; retry one that it dropped.)
      const retry = await putRaw(slow.url, user.token, id, 0, Buffer.alloc(1000, 2)).catch(() => putRaw(slow.url, user.token, id, 0, Buffer.alloc(1000, 2)));
      assert.equal(retry.status, 200);
      assert.equal(retry.json.body.attachment.complete, true);
    } finally {
      await slow.close();
    }
  });
});

describe('logs', () => {
  test('passwords and access tokens never appear in the logs', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-logs-'));
    const server = await startServerProcess({ DATA_DIR: dataDir, LOG_LEVEL: 'trace', PASSWORD_HASH_LOG2N: '10', MIN_FREE_BYTES: '0' });
    const base = server.base;
    try {
      const password = 'S3cret-Passw0rd-xyz';
      await request(base, 'POST', '/users', { form: { 'user[username]': 'logcheck', 'user[email]': 'l@example.com', 'user[password]': password } });
      const token = (await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'logcheck', password } })).json.access_token as string;
      await request(base, 'GET', '/account', { token });
      await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'logcheck', password: 'wrong-' + password } });
      await delay(200);
      const output = server.output();
      assert.ok(output.includes('/oauth/token'), 'the server logged nothing; the check would prove nothing');
      assert.ok(!output.includes(password), 'a password reached the logs');
      assert.ok(!output.includes(token), 'an access token reached the logs');
      // One line per request, with the route, status, bytes and duration.
      const lines = output.split('\n').filter((l) => l.includes('"route":"/account"'));
      assert.equal(lines.length, 1, `one log line for GET /account:\n${lines.join('\n')}`);
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.equal(line.status, 200);
      assert.ok(typeof line.bytes_in === 'number' && line.bytes_in > 0 && typeof line.duration_ms === 'number', lines[0]);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
