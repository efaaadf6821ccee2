/**
 * SPEC 10, registration modes: REGISTRATION=open|invite|closed (REGISTRATION_ENABLED=false
 * still closes it); in invite mode each code registers one user, once, before it expires, also
 * when several registrations race for it. On every database kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleClient } from '../../src/client/index.js';
import { loadConfig, registrationMode } from '../../src/config.js';
import { databaseKinds } from '../helpers/databases.js';
import { request } from '../helpers/client.js';
import { startServer, TestClock, type TestServer } from '../helpers/server.js';

const register = (base: string, user: Record<string, string>) => request(base, 'POST', '/users', { json: { user: { email: `${user.username}@example.com`, password: 'password1', ...user } } });

test('REGISTRATION wins; unset, REGISTRATION_ENABLED decides as before', () => {
  assert.equal(registrationMode(loadConfig([], {})), 'open');
  assert.equal(registrationMode(loadConfig([], { REGISTRATION_ENABLED: 'false' })), 'closed');
  assert.equal(registrationMode(loadConfig([], { REGISTRATION: 'invite' })), 'invite');
  assert.equal(registrationMode(loadConfig(['--registration', 'closed'], {})), 'closed');
  assert.equal(registrationMode(loadConfig([], { REGISTRATION: 'open', REGISTRATION_ENABLED: 'false' })), 'open');
  assert.throws(() => loadConfig([], { REGISTRATION: 'maybe' }), /REGISTRATION must be open, invite or closed/);
});

for (const kind of databaseKinds()) {
  describe(`registration by invitation on ${kind.name}`, { skip: kind.skip }, () => {
    const clock = new TestClock();
    let server: TestServer;
    before(async () => {
      server = await startServer(kind, { registration: 'invite' }, clock);
    });
    after(() => server.close());

    test('a code registers one user, in any case and with or without dashes; missing or unknown codes are refused', async () => {
      const [invite] = await server.app.services.invites.make(1);
      assert.match(invite!.code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
      const missing = await register(server.url, { username: 'inv_none' });
      assert.equal(missing.status, 400);
      assert.equal(missing.json.body.error.name, 'missing_parameter');
      assert.equal(missing.json.body.error.details.parameter, 'user[invite_code]');
      const wrong = await register(server.url, { username: 'inv_wrong', invite_code: 'AAAA-BBBB-CCCC-DDDD' });
      assert.equal(wrong.status, 422);
      assert.equal(wrong.json.body.error.name, 'invite_code_invalid');

      const typed = invite!.code.toLowerCase().replaceAll('-', ' ');
      const created = await register(server.url, { username: 'inv_ok', invite_code: typed });
      assert.equal(created.status, 201, created.text);
      const reused = await register(server.url, { username: 'inv_again', invite_code: invite!.code });
      assert.equal(reused.json.body.error.name, 'invite_code_invalid', 'single use');
      const [listed] = await server.app.services.invites.list({ offset: 0, limit: 10 });
      assert.equal(listed!.id, invite!.id);
      assert.equal(listed!.usedBy, created.json.body.user.id);
      assert.equal((await server.app.services.invites.list({ offset: 0, limit: 10 }, true)).some((i) => i.id === invite!.id), false);
    });

    test('a taken username leaves the code unspent; an expired code is refused', async () => {
      const [first, second] = await server.app.services.invites.make(2, 3600);
      assert.equal((await register(server.url, { username: 'inv_taken', invite_code: first!.code })).status, 201);
      const taken = await register(server.url, { username: 'INV_TAKEN', invite_code: second!.code });
      assert.equal(taken.status, 409);
      assert.equal(taken.json.body.error.name, 'username_taken');
      clock.advance(3599_000);
      assert.equal((await register(server.url, { username: 'inv_late', invite_code: second!.code })).status, 201, 'still usable');

      const [short] = await server.app.services.invites.make(1, 60);
      clock.advance(60_000);
      const expired = await register(server.url, { username: 'inv_expired', invite_code: short!.code });
      assert.equal(expired.json.body.error.name, 'invite_code_invalid');
    });

    test('registrations racing for one code: exactly one succeeds', async () => {
      const [invite] = await server.app.services.invites.make(1);
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => register(server.url, { username: `inv_race_${i}`, invite_code: invite!.code })));
      assert.deepEqual(replies.map((r) => r.status).sort(), [201, 422, 422, 422, 422, 422]);
    });

    test('SDK: register with inviteCode', async () => {
      const [invite] = await server.app.services.invites.make(1);
      const client = new TrickleClient({ server: server.url });
      await assert.rejects(client.register({ username: 'inv_sdk', email: 'sdk@example.com', password: 'password1' }), (error) => error instanceof TrickleApiError && error.errorName === 'missing_parameter');
      const user = await client.register({ username: 'inv_sdk', email: 'sdk@example.com', password: 'password1', inviteCode: invite!.code });
      assert.equal(user.username, 'inv_sdk');
    });
  });
}

describe('registration open and closed', () => {
  test('open ignores invite codes; closed refuses everyone with 403 registration_disabled', async () => {
    const open = await startServer(databaseKinds()[0]!, { registration: 'open' });
    try {
      assert.equal((await register(open.url, { username: 'open_1', invite_code: 'whatever' })).status, 201);
    } finally {
      await open.close();
    }
    const closed = await startServer(databaseKinds()[0]!, { registration: 'closed' });
    try {
      const [invite] = await closed.app.services.invites.make(1);
      const reply = await register(closed.url, { username: 'closed_1', invite_code: invite!.code });
      assert.equal(reply.status, 403);
      assert.equal(reply.json.body.error.name, 'registration_disabled');
    } finally {
      await closed.close();
    }
  });
});
