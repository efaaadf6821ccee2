/**
 * `trickle-admin` (SPEC 10) as an operator runs it: its own process against the database and
 * storage of a server that is running, on SQLite with the local disk and on PostgreSQL with S3.
 * Invite codes, finding users, disabling (tokens and JWTs refused at once, accepted again once
 * enabled), revoking tokens, storage per user and in all, and erasing a user as DELETE /account does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { runCli } from '../helpers/cli.js';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { blobKeys, startServer, type TestServer } from '../helpers/server.js';
import { assertNoRowsNaming, storageKeysOf } from '../helpers/user-data.js';

const ADMIN = path.join(import.meta.dirname, '..', '..', 'src', 'admin', 'main.ts');
const AUDIO = fixture('tone.opus');
const PASSWORD = 'correct horse battery';
const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'trickle-api';
const JWT_SECRET = randomBytes(32).toString('base64');

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the admin's JSON is checked field by field

const kinds = storageKinds('postgres').filter((kind) => kind.name === 'sqlite' || kind.name === 'postgres+s3');

for (const kind of kinds) {
  describe(`trickle-admin beside a running server on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let env: Record<string, string>;
    before(async () => {
      server = await startServer(kind, { registration: 'invite', authJwtSecret: JWT_SECRET, authIssuer: ISSUER, authAudience: AUDIENCE, ffmpegPath: '/nonexistent/ffmpeg' });
      const { config } = server;
      env = {
        DATA_DIR: config.dataDir,
        DATABASE_URL: config.databaseUrl,
        ...(config.storageUrl ? { STORAGE_URL: config.storageUrl, S3_ENDPOINT: config.s3Endpoint ?? '' } : {}),
        LOG_LEVEL: 'silent',
      };
    });
    after(() => server?.close());

    const admin = async (args: string[], stdin = ''): Promise<{ code: number | null; json: Json; stdout: string; stderr: string }> => {
      const run = await runCli(args, env, stdin, ADMIN);
      let json: Json = null;
      try {
        json = JSON.parse(run.stdout);
      } catch {
        json = null;
      }
      return { ...run, json };
    };
    const ok = async (args: string[]) => {
      const run = await admin([...args, '--json']);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      return run.json;
    };
    const account = (token: string) => request(server.url, 'GET', '/account', { token });
    const signIn = async (username: string) => (await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username, password: PASSWORD } })).json.access_token as string;

    async function register(username: string, code: string): Promise<{ id: number; token: string }> {
      const reply = await request(server.url, 'POST', '/users', { json: { user: { username, email: `${username}@example.com`, password: PASSWORD, invite_code: code } } });
      assert.equal(reply.status, 201, reply.text);
      return { id: reply.json.body.user.id, token: await signIn(username) };
    }

    test('invite codes, users, disable and enable, revoking tokens, storage, erasing', async () => {
      // Registration here is by invitation: the codes come from the admin.
      const made = await ok(['invite', '--count', '3', '--expires', '2h']);
      assert.equal(made.invites.length, 3);
      const expires = Date.parse(made.invites[0].expires_at) - Date.now();
      assert.ok(expires > 7_100_000 && expires <= 7_200_000, `expires in ${expires} ms`);
      const alice = await register('adm_alice', made.invites[0].code);
      const bob = await register('adm_bob', made.invites[1].code);
      const listed = await ok(['invites']);
      assert.deepEqual(listed.invites.map((i: Json) => i.id), [made.invites[2].id], 'only the unused code is still usable');
      assert.equal((await ok(['invites', '--all'])).invites.length, 3);
      assert.equal((await ok(['invites', '--revoke', String(made.invites[2].id)])).revoked, made.invites[2].id);
      assert.deepEqual((await ok(['invites'])).invites, []);

      // Alice stores things: a clip, a message to bob, an attachment still open.
      const clip = await request(server.url, 'POST', '/audio_clips', { token: alice.token, multipart: [['audio_clip[title]', 'hers'], ['audio_clip[uploaded_data]', AUDIO, 'a.opus']] });
      assert.equal(clip.status, 201, clip.text);
      const sent = await request(server.url, 'POST', '/account/outbox', { token: alice.token, multipart: [['message[recipient_id]', String(bob.id)], ['message[uploaded_data]', AUDIO, 'm.opus']] });
      assert.equal(sent.status, 201, sent.text);
      const bobClip = await request(server.url, 'POST', '/audio_clips', { token: bob.token, multipart: [['audio_clip[title]', 'his'], ['audio_clip[uploaded_data]', AUDIO, 'b.opus']] });
      assert.equal(bobClip.status, 201, bobClip.text);
      const open = await createAttachment(server.url, alice.token, 4000, 'open.bin');
      assert.equal((await putRaw(server.url, alice.token, open, 0, randomBytes(1500))).status, 200);

      const users = await ok(['users']);
      assert.deepEqual(users.users.map((u: Json) => u.username), ['adm_bob', 'adm_alice']);
      assert.deepEqual((await ok(['users', '--query', 'ALI'])).users.map((u: Json) => u.id), [alice.id]);
      const shown = (await ok(['user', 'adm_alice'])).user;
      assert.equal(shown.id, alice.id);
      assert.equal(shown.state, 'active');
      assert.deepEqual([shown.clips, shown.messagesSent, shown.openAttachments], [1, 1, 1]);
      assert.deepEqual(shown.storage, { files: 2 * AUDIO.length, renditions: 0, uploads: 1500, total: 2 * AUDIO.length + 1500 });
      const human = await admin(['user', String(alice.id)]);
      assert.match(human.stdout, /adm_alice \(id \d+\), active/);

      const storage = await ok(['storage']);
      assert.equal(storage.users[0].id, alice.id, 'the largest first');
      assert.equal(storage.all.total, storage.users.reduce((sum: number, u: Json) => sum + u.total, 0));
      assert.equal((await ok(['storage', 'adm_bob'])).users[0].total, AUDIO.length);

      // Disabled: the token and a JWT user's JWT are refused on the running server at once.
      const jwt = await new SignJWT({ preferred_username: 'adm_jwt' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('jwt-1')
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(JWT_SECRET));
      assert.equal((await account(jwt)).status, 200);
      assert.equal((await ok(['disable', 'adm_alice'])).changed, true);
      assert.equal((await ok(['disable', 'adm_jwt'])).changed, true);
      assert.equal((await ok(['disable', 'adm_jwt'])).changed, false, 'disabled already');
      for (const token of [alice.token, jwt]) {
        const refused = await account(token);
        assert.equal(refused.status, 401);
        assert.equal(refused.json.body.error.description, 'This account is disabled.');
      }
      assert.equal((await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'adm_alice', password: PASSWORD } })).json.error, 'invalid_grant');
      assert.deepEqual((await ok(['users', '--state', 'disabled'])).users.map((u: Json) => u.username).sort(), ['adm_alice', 'adm_jwt']);
      await ok(['enable', 'adm_alice']);
      await ok(['enable', 'adm_jwt']);
      assert.equal((await account(alice.token)).status, 200, 'the same token works again');
      assert.equal((await account(jwt)).status, 200);

      // Revoking ends every token of the user, for good.
      const second = await signIn('adm_bob');
      assert.equal((await ok(['revoke-tokens', 'adm_bob'])).revoked, 2);
      assert.equal((await account(bob.token)).status, 401);
      assert.equal((await account(second)).status, 401);

      // Erasing, as DELETE /account does: rows and stored objects, nothing of bob's.
      const db = server.app.services.database.db;
      const gone = await storageKeysOf(db, alice.id);
      // Bob's own: what he has less the message alice sent him, which goes with her.
      const bobKeys = [...(await storageKeysOf(db, bob.id))].filter((key) => !gone.has(key));
      assert.equal(bobKeys.length, 1);
      const refused = await admin(['erase', 'adm_alice']);
      assert.equal(refused.code, 2, 'not without --yes when nobody can be asked');
      assert.equal((await account(alice.token)).status, 200, 'nothing happened');
      const erased = await ok(['erase', 'adm_alice', '--yes']);
      assert.equal(erased.user.id, alice.id);
      await assertNoRowsNaming(db, alice.id);
      const left = await blobKeys(server);
      assert.deepEqual(left.filter((key) => gone.has(key)), []);
      assert.ok(bobKeys.every((key) => left.includes(key)));
      assert.deepEqual((await ok(['users'])).users.map((u: Json) => u.username), ['adm_jwt', 'adm_bob']);
      const inbox = await request(server.url, 'GET', '/account/inbox', { token: await signIn('adm_bob') });
      assert.deepEqual(inbox.json.body.messages, [], "alice's message is gone from bob's inbox");
    });

    test('errors: unknown user, bad options, unknown command', async () => {
      const unknown = await admin(['user', 'nobody_at_all', '--json']);
      assert.equal(unknown.code, 1);
      assert.equal(JSON.parse(unknown.stderr).error.name, 'not_found');
      const cases: Array<[string[], RegExp]> = [
        [['frobnicate'], /unknown command/],
        [['users', '--state', 'sleeping'], /--state must be one of/],
        [['invite', '--expires', 'soon'], /--expires must be like/],
        [['disable'], /needs a USER/],
        [['--no-such-setting', 'x', 'users'], /unknown option --no-such-setting/],
      ];
      for (const [args, message] of cases) {
        const run = await admin(args);
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message);
      }
      const help = await admin(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /erase +erase a user/);
    });
  });
}
