/** The webhook POST against real receivers on 127.0.0.1: what counts as delivered, and what not. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { postWebhook } from '../../src/webhooks/delivery-client.js';

let base = '';
const seen: Array<{ path: string; body: string; headers: IncomingMessage['headers'] }> = [];
const routes: Record<string, (response: ServerResponse) => void> = {
  '/ok': (r) => r.writeHead(204).end(),
  '/accepted': (r) => r.writeHead(202).end('queued'),
  '/fail': (r) => r.writeHead(500).end('boom'),
  '/gone': (r) => r.writeHead(410).end(),
  '/redirect': (r) => r.writeHead(307, { location: '/ok' }).end(),
  '/slow': () => undefined, // never answers
  '/big': (r) => {
    r.writeHead(200);
    r.end(Buffer.alloc(8 * 1024 * 1024));
  },
};
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (piece: Buffer) => (body += piece.toString()));
  request.on('end', () => {
    seen.push({ path: request.url!, body, headers: request.headers });
    routes[request.url!]!(response);
  });
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const post = (path: string, timeoutMs = 2000) => postWebhook(base + path, { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, '{"a":1}', { timeoutMs });

test('2xx is delivered; the body and headers arrive as sent', async () => {
  assert.deepEqual(await post('/ok'), { delivered: true, status: 204, failure: null });
  assert.deepEqual(await post('/accepted'), { delivered: true, status: 202, failure: null });
  assert.deepEqual(await post('/big'), { delivered: true, status: 200, failure: null });
  const last = seen.at(-1)!;
  assert.equal(last.body, '{"a":1}');
  assert.equal(last.headers['webhook-id'], 'msg_1');
  assert.equal(last.headers['content-type'], 'application/json');
});

test('errors, redirects (not followed), timeouts and refused connections are failures', async () => {
  assert.deepEqual(await post('/fail'), { delivered: false, status: 500, failure: 'HTTP 500' });
  assert.deepEqual(await post('/gone'), { delivered: false, status: 410, failure: 'HTTP 410' });
  const before = seen.length;
  const redirect = await post('/redirect');
  assert.equal(redirect.delivered, false);
  assert.equal(redirect.status, 307);
  assert.match(redirect.failure!, /not followed/);
  assert.equal(seen.length, before + 1, 'the redirect target was not called');
  const started = Date.now();
  const slow = await post('/slow', 300);
  assert.equal(slow.delivered, false);
  assert.match(slow.failure!, /no answer within 300 ms/);
  assert.ok(Date.now() - started < 5000);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await postWebhook(`http://127.0.0.1:${port}/hook`, {}, '{}', { timeoutMs: 2000 });
  assert.equal(refused.delivered, false);
  assert.equal(refused.status, null);
  assert.match(refused.failure!, /ECONNREFUSED/);
});
