/** `trickle logout` and the SDK's logout(): the token is revoked on the server and forgotten locally. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleClient } from '../../src/client/index.js';
import { runCli as cli } from '../helpers/cli.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('logging out', () => {
  let server: TestServer;
  let workDir: string;
  before(async () => {
    server = await startServer(databaseKinds()[0]!);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-logout-'));
  });
  after(async () => {
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  });

  test('SDK: logout() revokes the token in use; logoutEverywhere() every token of the user', async () => {
    const { username, token: other } = await newUser(server.url, 'sdk_out');
    const client = new TrickleClient({ server: server.url });
    const token = await client.login(username, 'correct horse battery');
    await client.logout();
    assert.equal(client.token, undefined);
    assert.equal((await request(server.url, 'GET', '/account', { token })).status, 401);
    assert.equal((await request(server.url, 'GET', '/account', { token: other })).status, 200);

    await client.login(username, 'correct horse battery');
    await client.logoutEverywhere();
    assert.equal((await request(server.url, 'GET', '/account', { token: other })).status, 401);
    const stale = new TrickleClient({ server: server.url, token: other });
    await assert.rejects(stale.account(), (error) => error instanceof TrickleApiError && error.errorName === 'invalid_token');
  });

  test('CLI: trickle logout revokes the saved token and removes it from the config file', async () => {
    const { username } = await newUser(server.url, 'cli_out');
    const env = { TRICKLE_CONFIG_DIR: path.join(workDir, 'config'), TRICKLE_SERVER: server.url, TRICKLE_TOKEN: '' };
    assert.equal((await cli(['login', username], env, 'correct horse battery\n')).code, 0);
    const file = path.join(env.TRICKLE_CONFIG_DIR, 'config.json');
    const saved = JSON.parse(await readFile(file, 'utf8')) as { token: string };
    assert.equal((await request(server.url, 'GET', '/account', { token: saved.token })).status, 200);

    const out = await cli(['logout', '--json'], env);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((JSON.parse(out.stdout) as { everywhere: boolean }).everywhere, false);
    assert.equal((await request(server.url, 'GET', '/account', { token: saved.token })).status, 401);
    assert.equal((JSON.parse(await readFile(file, 'utf8')) as { token?: string }).token, undefined);
    const again = await cli(['logout'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not logged in/);

    // --everywhere ends tokens issued to other devices too.
    const elsewhere = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password: 'correct horse battery' } });
    assert.equal((await cli(['login', username], env, 'correct horse battery\n')).code, 0);
    assert.equal((await cli(['logout', '--everywhere'], env)).code, 0);
    assert.equal((await request(server.url, 'GET', '/account', { token: elsewhere.json.access_token })).status, 401);
  });
});
