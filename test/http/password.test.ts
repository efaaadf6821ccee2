/**
 * SPEC 10, passwords: PUT /account/password checks the current password, sets the new one and
 * revokes every other token of the account (on every node at once); the SDK and `trickle
 * password` do the same. On every database kind.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleClient } from '../../src/client/index.js';
import { runCli as cli } from '../helpers/cli.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';

async function signIn(base: string, username: string, password = PASSWORD): Promise<{ status: number; token: string }> {
  const reply = await request(base, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password } });
  return { status: reply.status, token: reply.json.access_token };
}

const account = (base: string, token: string) => request(base, 'GET', '/account', { token });

for (const kind of databaseKinds()) {
  describe(`changing a password on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let other: Node; // a second node over the same database
    before(async () => {
      server = await startServer(kind);
      other = await startNode(server.config);
    });
    after(async () => {
      await other.close();
      await server.close();
    });

    test('the new password works, the old one not; every other token of the user is revoked on every node', async () => {
      const { username, token: first } = await newUser(server.url, 'pw');
      const { token: second } = await signIn(server.url, username);
      const bystander = await newUser(server.url, 'pw_other');

      const changed = await request(server.url, 'PUT', '/account/password', { token: second, form: { 'password[current]': PASSWORD, 'password[new]': 'a new secret' } });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.json.body.user.username, username);

      assert.equal((await account(server.url, second)).status, 200, 'the token that asked goes on');
      const revoked = await account(other.url, first);
      assert.equal(revoked.status, 401);
      assert.equal(revoked.json.body.error.name, 'invalid_token');
      assert.equal((await account(other.url, bystander.token)).status, 200, "other users' tokens are untouched");
      assert.equal((await signIn(other.url, username)).status, 400);
      assert.equal((await signIn(other.url, username, 'a new secret')).status, 200);
    });

    test('a wrong current password changes nothing; the new one is checked like at registration', async () => {
      const { username, token } = await newUser(server.url, 'pw_bad');
      const { token: elsewhere } = await signIn(server.url, username);
      const wrong = await request(server.url, 'PUT', '/account/password', { token, json: { password: { current: 'not it at all', new: 'whatever123' } } });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.json.body.error.name, 'wrong_password');
      assert.equal((await account(server.url, elsewhere)).status, 200, 'nothing was revoked');

      const short = await request(server.url, 'PUT', '/account/password', { token, json: { password: { current: PASSWORD, new: 'short' } } });
      assert.equal(short.status, 400);
      assert.equal(short.json.body.error.name, 'invalid_parameter');
      assert.equal(short.json.body.error.details.parameter, 'password[new]');
      const missing = await request(server.url, 'PUT', '/account/password', { token, json: { password: { current: PASSWORD } } });
      assert.equal(missing.json.body.error.name, 'missing_parameter');
      assert.equal(missing.json.body.error.details.parameter, 'password[new]');
      assert.equal((await request(server.url, 'PUT', '/account/password', { json: { password: { current: PASSWORD, new: 'whatever123' } } })).status, 401);
      assert.equal((await signIn(server.url, username)).status, 200, 'the password is unchanged');
    });

    test('SDK: changePassword keeps the client signed in and ends the other sessions', async () => {
      const { username, token: old } = await newUser(server.url, 'pw_sdk');
      const client = new TrickleClient({ server: server.url });
      await client.login(username, PASSWORD);
      const user = await client.changePassword(PASSWORD, 'sdk new password');
      assert.equal(user.username, username);
      assert.equal((await client.account()).username, username);
      assert.equal((await account(server.url, old)).status, 401);
      await assert.rejects(client.changePassword(PASSWORD, 'another one!'), (error) => error instanceof TrickleApiError && error.errorName === 'wrong_password' && error.status === 403);
    });
  });
}

describe('trickle password', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
  });
  after(() => server.close());

  test('reads the current and the new password from stdin and changes it', async () => {
    const { username, token } = await newUser(server.url, 'pw_cli');
    const { token: elsewhere } = await signIn(server.url, username);
    const env = { TRICKLE_SERVER: server.url, TRICKLE_TOKEN: token, TRICKLE_CONFIG_DIR: path.join(server.dataDir, 'cli-config') };
    const run = await cli(['password', '--json'], env, `${PASSWORD}\ncli new password\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { user: { username: string } }).user.username, username);
    assert.equal((await account(server.url, elsewhere)).status, 401);
    assert.equal((await signIn(server.url, username, 'cli new password')).status, 200);

    const wrong = await cli(['password'], env, 'nope nope\nnew password 2\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^trickle: .*\[wrong_password, HTTP 403\]\n$/);
  });
});
