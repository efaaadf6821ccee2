/**
 * Response serializers are built on a route's first reply, not at start (src/http/lazy-schemas.ts):
 * the server is ready without fast-json-stringify or Ajv loaded, replies are shaped by the
 * schemas once they are, and every route's serializer compiles.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { buildPendingSerializers } from '../../src/http/lazy-schemas.js';
import { request, newUser } from '../helpers/client.js';
import { databaseKinds } from '../helpers/databases.js';
import { startServer, type TestServer } from '../helpers/server.js';

const require = createRequire(import.meta.url);
/** Whether a package's main module is loaded (Fastify's own error serializer uses a small runtime file of fast-json-stringify). */
const loaded = (name: string) => Object.keys(require.cache).some((file) => file.endsWith(`/node_modules/${name}/index.js`) || file.endsWith(`/node_modules/${name}/dist/ajv.js`));

describe('response serializers built on first use', () => {
  const sqlite = databaseKinds()[0]!;
  let server: TestServer;
  before(async () => {
    server = await startServer(sqlite);
  });
  after(() => server.close());

  test('ready without them; a reply builds its own, shaped by the schema', async () => {
    // This test file runs in a process of its own: nothing else loaded them.
    assert.equal(loaded('fast-json-stringify'), false, 'fast-json-stringify loaded at start');
    assert.equal(loaded('ajv'), false, 'Ajv loaded at start');
    const user = await newUser(server.url, 'lazy');
    const reply = await request(server.url, 'GET', '/account', { token: user.token });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(loaded('fast-json-stringify'), true);
    // Only what the schema names is sent: no password digest or other column leaks through.
    assert.deepEqual(Object.keys(reply.json.body.user).sort(), Object.keys(reply.json.body.user).filter((key) => !/password|digest|hash/.test(key)).sort());
  });

  test('every route and status compiles', () => {
    const built = buildPendingSerializers();
    assert.ok(built > 50, `only ${built} serializers were waiting`);
    assert.equal(buildPendingSerializers(), 0);
  });
});
