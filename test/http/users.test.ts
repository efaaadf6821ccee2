/** SPEC 2 over real HTTP, on every database kind. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

for (const kind of databaseKinds()) {
  describe(`users and tokens on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    before(async () => {
      server = await startServer(kind);
      base = server.url;
    });
    after(() => server.close());

    const register = (user: Record<string, unknown>) => request(base, 'POST', '/users', { json: { user } });

    test('register (JSON or form), sign in, read the account and the public profile', async () => {
      const created = await register({ username: 'Carol_1', email: 'carol@example.com', password: 'longenough' });
      assert.equal(created.status, 201);
      const user = created.json.body.user;
      assert.equal(user.username, 'Carol_1');
      assert.equal(user.messaging_enabled, true);
      assert.equal(created.headers.get('location'), `/users/${user.id}`);
      assert.ok(!('password' in user) && !('password_hash' in user));

      const token = await request(base, 'POST', '/oauth/token', { json: { grant_type: 'password', username: 'carol_1', password: 'longenough' } });
      assert.equal(token.status, 200);
      assert.deepEqual(Object.keys(token.json).sort(), ['access_token', 'token_type']);
      assert.equal(token.json.token_type, 'Bearer');
      assert.equal(token.headers.get('cache-control'), 'no-store');

      const account = await request(base, 'GET', '/account', { token: token.json.access_token });
      assert.equal(account.status, 200);
      assert.equal(account.json.body.user.id, user.id);
      assert.equal(account.json.body.user.email, 'carol@example.com');
      assert.deepEqual(account.json.body.user.limits, {
        max_attachment_size: server.config.maxAttachmentSize,
        max_open_attachments: server.config.maxOpenAttachments,
        max_reserved_bytes: server.config.maxReservedBytes,
        attachment_idle_timeout: server.config.attachmentIdleTimeoutSeconds,
        trickle: true,
        parallel: true,
      });

      const profile = await request(base, 'GET', `/users/${user.id}`);
      assert.equal(profile.status, 200);
      assert.deepEqual(profile.json.body.user, { id: user.id, username: 'Carol_1', messaging_enabled: true });

      const form = await request(base, 'POST', '/users', { form: { 'user[username]': 'dave', 'user[email]': 'd@example.org', 'user[password]': '12345678' } });
      assert.equal(form.status, 201);
    });

    test('usernames are unique regardless of case; every field is checked', async () => {
      assert.equal((await register({ username: 'erin', email: 'e@example.com', password: 'password1' })).status, 201);
      const taken = await register({ username: 'ERIN', email: 'e2@example.com', password: 'password1' });
      assert.equal(taken.status, 409);
      assert.equal(taken.json.body.error.name, 'username_taken');
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ username: 'ab', email: 'x@example.com', password: 'password1' }, 'invalid_parameter', 'user[username]'],
        [{ username: 'a'.repeat(33), email: 'x@example.com', password: 'password1' }, 'invalid_parameter', 'user[username]'],
        [{ username: 'bad name', email: 'x@example.com', password: 'password1' }, 'invalid_parameter', 'user[username]'],
        [{ username: 'okname', email: 'not-an-email', password: 'password1' }, 'invalid_parameter', 'user[email]'],
        [{ username: 'okname', email: 'x@example.com', password: 'short' }, 'invalid_parameter', 'user[password]'],
        [{ username: 'okname', email: 'x@example.com' }, 'missing_parameter', 'user[password]'],
        [{ username: 'okname', email: { a: 1 }, password: 'password1' }, 'invalid_parameter', 'user[email]'],
      ];
      for (const [user, name, parameter] of cases) {
        const reply = await register(user);
        assert.equal(reply.status, 400, JSON.stringify(user));
        assert.equal(reply.json.body.error.name, name);
        assert.equal(reply.json.body.error.details.parameter, parameter);
      }
      assert.equal((await request(base, 'POST', '/users', { json: {} })).json.body.error.name, 'missing_parameter');
    });

    test('token errors follow RFC 6749', async () => {
      await register({ username: 'frank', email: 'f@example.com', password: 'password1' });
      const wrong = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'frank', password: 'password2' } });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.json.error, 'invalid_grant');
      const unknown = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'nobody', password: 'password1' } });
      assert.equal(unknown.json.error, 'invalid_grant');
      const grant = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'client_credentials' } });
      assert.equal(grant.json.error, 'unsupported_grant_type');
      const missing = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.error, 'invalid_request');
      const garbage = await request(base, 'POST', '/oauth/token', { json: '{"grant_type":' });
      assert.equal(garbage.status, 400);
    });

    test('account needs a valid token; unknown users are 404', async () => {
      assert.equal((await request(base, 'GET', '/account')).json.body.error.name, 'authentication_required');
      assert.equal((await request(base, 'GET', '/account', { token: 'x'.repeat(43) })).status, 401);
      assert.equal((await request(base, 'GET', '/users/999999')).status, 404);
      assert.equal((await request(base, 'GET', '/users/abc')).status, 404);
    });

    test('a user is found by username, in any case', async () => {
      const created = await register({ username: 'Lookup_Me', email: 'lm@example.com', password: 'password1' });
      const found = await request(base, 'GET', '/users?username=lookup_ME');
      assert.equal(found.status, 200);
      assert.deepEqual(found.json.body.user, { id: created.json.body.user.id, username: 'Lookup_Me', messaging_enabled: true });
      assert.equal((await request(base, 'GET', '/users?username=nobody_here')).json.body.error.name, 'not_found');
      assert.equal((await request(base, 'GET', '/users')).json.body.error.name, 'missing_parameter');
    });

    test('names outside the username rules (a NUL byte, too long) are nobody, never a 500', async () => {
      for (const name of ['a\u0000b', '\u0000', 'x'.repeat(40), 'no such!']) {
        const lookup = await request(base, 'GET', `/users?username=${encodeURIComponent(name)}`);
        assert.equal(lookup.status, name.length > 64 ? 400 : 404, `${JSON.stringify(name)}: ${lookup.text}`);
        const token = await request(base, 'POST', '/oauth/token', { json: { grant_type: 'password', username: name, password: 'password1' } });
        assert.equal(token.status, 400, token.text);
        assert.equal(token.json.error, 'invalid_grant');
      }
    });

    test('tokens and passwords are stored hashed', async () => {
      await register({ username: 'grace', email: 'g@example.com', password: 'password1' });
      const token = (await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'grace', password: 'password1' } })).json.access_token;
      const { db } = server.app.services.database;
      const rows = await db.selectFrom('access_tokens').select('token_hash').execute();
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => r.token_hash !== token && /^[0-9a-f]{64}$/.test(r.token_hash)));
      const user = await db.selectFrom('users').select('password_hash').where('username_key', '=', 'grace').executeTakeFirstOrThrow();
      assert.match(user.password_hash, /^scrypt\$\d+\$8\$3\$/);
      assert.ok(!user.password_hash.includes('password1'));
    });
  });
}

describe('registration switched off', () => {
  test('POST /users answers 403 registration_disabled', async () => {
    const server = await startServer(databaseKinds()[0]!, { registrationEnabled: false });
    try {
      const reply = await request(server.url, 'POST', '/users', { json: { user: { username: 'zed', email: 'z@example.com', password: 'password1' } } });
      assert.equal(reply.status, 403);
      assert.equal(reply.json.body.error.name, 'registration_disabled');
    } finally {
      await server.close();
    }
  });
});
