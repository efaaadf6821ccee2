/**
 * Errors raised before a handler runs (rate limits, body parsing, Node's HTTP parser) answer in
 * the API's envelope, or in RFC 6749's form on /oauth/token; never Fastify's {"error":"Bad Request"}.
 * TRUST_PROXY makes rate limits see the client's address from X-Forwarded-For.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const [sqlite] = databaseKinds();

/** Sends raw bytes and returns everything the server wrote back before it closed. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function envelopeError(text: string): { status: number; name: string } {
  const [head, body] = text.split('\r\n\r\n', 2) as [string, string];
  return { status: Number(head.split(' ')[1]), name: JSON.parse(body).body.error.name };
}

const tokenForm = { grant_type: 'password', username: 'nobody', password: 'wrong-password' };

describe('errors before the handler', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(sqlite!, { tokenRateLimit: 2, registrationRateLimit: 1 });
  });
  after(() => server.close());

  test('/oauth/token: unparseable and oversized bodies answer in RFC 6749 form', async () => {
    const bad = await request(server.url, 'POST', '/oauth/token', { json: '{bad' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_request');
    assert.equal(typeof bad.json.error_description, 'string');
    const tooBig = await request(server.url, 'POST', '/oauth/token', { form: { ...tokenForm, pad: 'x'.repeat(1100 * 1024) } });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.json.error, 'invalid_request');
  });

  test('/oauth/token 429 in RFC 6749 form; POST /users 429 in the envelope', async () => {
    let last = await request(server.url, 'POST', '/oauth/token', { form: tokenForm });
    for (let i = 0; i < 3 && last.status !== 429; i += 1) last = await request(server.url, 'POST', '/oauth/token', { form: tokenForm });
    assert.equal(last.status, 429);
    assert.equal(last.json.error, 'rate_limited');
    assert.match(last.json.error_description, /try again/);
    assert.ok(Number(last.headers.get('retry-after')) > 0);

    const form = { 'user[username]': 'early1', 'user[email]': 'e@example.com', 'user[password]': 'secret-password' };
    assert.equal((await request(server.url, 'POST', '/users', { form })).status, 201);
    const limited = await request(server.url, 'POST', '/users', { form: { ...form, 'user[username]': 'early2' } });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.body.error.name, 'rate_limited');
  });

  test('a body over the limit answers 413 in the envelope', async () => {
    const reply = await request(server.url, 'POST', '/attachments', { json: JSON.stringify({ pad: 'x'.repeat(1100 * 1024) }) });
    assert.equal(reply.status, 413);
    assert.equal(reply.json.body.error.name, 'request_too_large');
  });

  test("Node's parser errors (bad framing, oversized headers) answer in the envelope", async () => {
    const framing = await rawExchange(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.deepEqual(envelopeError(framing), { status: 400, name: 'malformed_request' });
    const garbage = await rawExchange(server.url, 'HELLO\r\n\r\n');
    assert.deepEqual(envelopeError(garbage), { status: 400, name: 'malformed_request' });
    const headers = await rawExchange(server.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.deepEqual(envelopeError(headers), { status: 431, name: 'headers_too_large' });
  });
});

describe('TRUST_PROXY', () => {
  for (const trustProxy of [true, false]) {
    test(`rate limits ${trustProxy ? 'use X-Forwarded-For when trusted' : 'ignore X-Forwarded-For by default'}`, async () => {
      const server = await startServer(sqlite!, { tokenRateLimit: 1, trustProxy });
      try {
        const from = (address: string) => request(server.url, 'POST', '/oauth/token', { form: tokenForm, headers: { 'x-forwarded-for': address } });
        assert.equal((await from('198.51.100.1')).status, 400);
        assert.equal((await from('198.51.100.1')).status, 429);
        assert.equal((await from('198.51.100.2')).status, trustProxy ? 400 : 429);
      } finally {
        await server.close();
      }
    });
  }
});
