/** Token lifetimes, RFC 7009 revocation and signing out everywhere, on every database kind. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { startServer, TestClock, type TestServer } from '../helpers/server.js';

async function signIn(base: string, username: string): Promise<string> {
  const reply = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password: 'correct horse battery' } });
  assert.equal(reply.status, 200, reply.text);
  return reply.json.access_token;
}

const account = (base: string, token: string) => request(base, 'GET', '/account', { token });

for (const kind of databaseKinds()) {
  describe(`token revocation and lifetimes on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let other: Node; // a second node over the same database
    const clock = new TestClock();
    before(async () => {
      server = await startServer(kind, { accessTokenTtlSeconds: 3600 }, clock);
      other = await startNode(server.config, clock);
    });
    after(async () => {
      await other.close();
      await server.close();
    });

    test('the token answer says when the token expires, and it stops working then', async () => {
      const { username } = await newUser(server.url, 'ttl');
      const reply = await request(server.url, 'POST', '/oauth/token', { json: { grant_type: 'password', username, password: 'correct horse battery' } });
      assert.equal(reply.status, 200);
      assert.equal(reply.json.expires_in, 3600);
      const token = reply.json.access_token;
      clock.advance(3599_000);
      assert.equal((await account(server.url, token)).status, 200);
      clock.advance(1000);
      const expired = await account(other.url, token);
      assert.equal(expired.status, 401);
      assert.equal(expired.json.body.error.name, 'invalid_token');
    });

    test('POST /oauth/revoke (form or JSON) ends a token at once on every node; unknown tokens answer 200', async () => {
      const { username } = await newUser(server.url, 'rev');
      const first = await signIn(server.url, username);
      const second = await signIn(server.url, username);
      assert.equal((await account(other.url, first)).status, 200);

      const revoked = await request(server.url, 'POST', '/oauth/revoke', { form: { token: first, token_type_hint: 'access_token' } });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.headers.get('cache-control'), 'no-store');
      for (const base of [server.url, other.url]) {
        const reply = await account(base, first);
        assert.equal(reply.status, 401);
        assert.equal(reply.json.body.error.name, 'invalid_token');
      }
      // Only that token: the user's other token still works.
      assert.equal((await account(other.url, second)).status, 200);
      assert.equal((await request(other.url, 'POST', '/oauth/revoke', { json: { token: second } })).status, 200);
      assert.equal((await account(server.url, second)).status, 401);

      // Revoking twice, or a token that never existed, is fine (RFC 7009 2.2).
      assert.equal((await request(server.url, 'POST', '/oauth/revoke', { json: { token: first } })).status, 200);
      assert.equal((await request(server.url, 'POST', '/oauth/revoke', { form: { token: 'never-issued' } })).status, 200);
      const missing = await request(server.url, 'POST', '/oauth/revoke', { form: {} });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error, 'invalid_request');
    });

    test('DELETE /account/tokens signs the caller out everywhere, and nobody else', async () => {
      const alice = await newUser(server.url, 'everywhere');
      const bob = await newUser(server.url, 'bystander');
      const phone = await signIn(server.url, alice.username);
      const laptop = await signIn(other.url, alice.username);
      assert.equal((await request(server.url, 'DELETE', '/account/tokens')).status, 401);
      const out = await request(other.url, 'DELETE', '/account/tokens', { token: phone });
      assert.equal(out.status, 204);
      assert.equal(out.text, '');
      for (const token of [alice.token, phone, laptop]) {
        for (const base of [server.url, other.url]) assert.equal((await account(base, token)).status, 401);
      }
      assert.equal((await account(server.url, bob.token)).status, 200);
      // Signing in again works as before.
      assert.equal((await account(server.url, await signIn(server.url, alice.username))).status, 200);
    });
  });
}

describe('tokens without ACCESS_TOKEN_TTL', () => {
  let server: TestServer;
  const clock = new TestClock();
  before(async () => {
    server = await startServer(databaseKinds()[0]!, {}, clock);
  });
  after(() => server.close());

  test('have no expires_in and still work years later', async () => {
    const { username } = await newUser(server.url, 'forever');
    const reply = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password: 'correct horse battery' } });
    assert.deepEqual(Object.keys(reply.json).sort(), ['access_token', 'token_type']);
    clock.advance(5 * 365 * 24 * 3600 * 1000);
    assert.equal((await account(server.url, reply.json.access_token)).status, 200);
  });
});
