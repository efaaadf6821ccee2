/**
 * SPEC 10, erasure: DELETE /account removes the user and everything theirs — clips, messages
 * sent (gone from the recipients' inboxes) and received, attachments and their pieces, images,
 * renditions, tokens, blocks — from the database and from the store (listed to check), and
 * nothing of anybody else; `user.deleted` is announced once, also with two nodes working the
 * queue. On both databases, on the local disk and on S3.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { Webhook } from 'standardwebhooks';
import { locateFfmpeg } from '../../src/media/ffmpeg.js';
import { databaseKinds, s3Settings, type DatabaseKind } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, type MultipartEntry } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { waitProcessed } from '../helpers/processing.js';
import { blobKeys, readBlob, startServer, type TestServer } from '../helpers/server.js';
import { assertNoRowsNaming, rowsNaming, storageKeysOf, waitErased } from '../helpers/user-data.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

type Person = { token: string; id: number; username: string };
const PASSWORD = 'correct horse battery';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const AUDIO = fixture('tone.opus');
const IMAGE = fixture('cover.jpg');
const PROCESSING = (await locateFfmpeg('ffmpeg')) !== null;

/** Every database, each on the local disk and on S3. */
function kinds(): DatabaseKind[] {
  const storage = s3Settings();
  return databaseKinds().flatMap((kind) => [
    kind,
    { ...kind, name: `${kind.name}+s3` as DatabaseKind['name'], skip: kind.skip ?? (storage ? undefined : 'TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh start)'), storage },
  ]);
}

for (const kind of kinds()) {
  describe(`erasing an account on ${kind.name}`, { skip: kind.skip }, () => {
    const receiver = new WebhookReceiver();
    let server: TestServer;
    let other: Node; // a second node over the same database and store
    before(async () => {
      await receiver.up();
      server = await startServer(kind, { webhookUrl: receiver.url, webhookSecret: SECRET, webhookTimeoutSeconds: 2 });
      other = await startNode(server.config);
    });
    after(async () => {
      await other?.close();
      await server?.close();
      await receiver.down();
    });

    const db = () => server.app.services.database.db;

    async function clip(person: Person, title: string, image = false): Promise<number> {
      const parts: MultipartEntry[] = [['audio_clip[title]', title], ['audio_clip[uploaded_data]', AUDIO, 'a.opus']];
      if (image) parts.push(['audio_clip[uploaded_image]', IMAGE, 'cover.jpg']);
      const reply = await request(server.url, 'POST', '/audio_clips', { token: person.token, multipart: parts });
      assert.equal(reply.status, 201, reply.text);
      const id = reply.json.body.audio_clip.id as number;
      // An extra image size, made on request (SPEC 8): a rendition outside the background job.
      if (image) assert.equal((await request(server.url, 'GET', `/audio_clips/${id}?image_size_hint[s]=40x40`)).status, 200);
      return id;
    }

    async function message(from: Person, to: Person, title: string, image = false): Promise<number> {
      const parts: MultipartEntry[] = [['message[recipient_id]', String(to.id)], ['message[title]', title], ['message[uploaded_data]', AUDIO, 'm.opus']];
      if (image) parts.push(['message[uploaded_image]', IMAGE, 'cover.jpg']);
      const reply = await request(server.url, 'POST', '/account/outbox', { token: from.token, multipart: parts });
      assert.equal(reply.status, 201, reply.text);
      return reply.json.body.message.id;
    }

    async function completeAttachment(person: Person, data: Buffer): Promise<number> {
      const id = await createAttachment(server.url, person.token, data.length, 'tone.opus');
      // Two chunks, so an object store keeps pieces.
      assert.equal((await putRaw(server.url, person.token, id, 0, data.subarray(0, 1000))).status, 200);
      assert.equal((await putRaw(server.url, person.token, id, 1000, data.subarray(1000))).status, 200);
      return id;
    }

    /** SHA1 of every other user's media file, read from the store, against its row. */
    async function othersIntact(keep: Set<string>): Promise<number> {
      const files = await db().selectFrom('media_files').select(['storage_key', 'sha1']).where('storage_key', 'in', [...keep]).execute();
      for (const file of files) assert.equal(createHash('sha1').update(await readBlob(server, file.storage_key)).digest('hex'), file.sha1, file.storage_key);
      return files.length;
    }

    test('everything of the user goes, from the database and the store; nothing of anyone else', async (t) => {
      const [vic, ann, ben] = [await newUser(server.url, 'er_vic'), await newUser(server.url, 'er_ann'), await newUser(server.url, 'er_ben')];
      const second = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: vic.username, password: PASSWORD } });
      // Vic's things: clips (one with an image and an extra size, one from a chunked
      // attachment), messages both ways with both others, an unused complete attachment, an
      // unfinished one, blocks both ways.
      const clips = [await clip(vic, 'vic one', true), await clip(vic, 'vic two')];
      const used = await completeAttachment(vic, AUDIO);
      const fromAttachment = await request(server.url, 'POST', '/audio_clips', { token: vic.token, json: { audio_clip: { title: 'vic three', uploaded_data: { chunked_attachment_id: used } } } });
      assert.equal(fromAttachment.status, 201, fromAttachment.text);
      clips.push(fromAttachment.json.body.audio_clip.id);
      const toAnn = await message(vic, ann, 'vic to ann', true);
      const fromAnn = await message(ann, vic, 'ann to vic', true);
      const fromBen = await message(ben, vic, 'ben to vic');
      await completeAttachment(vic, AUDIO);
      const unfinished = await createAttachment(server.url, vic.token, 5000, 'half.bin');
      assert.equal((await putRaw(server.url, vic.token, unfinished, 0, randomBytes(2000))).status, 200);
      await request(server.url, 'POST', '/account/blocks', { token: vic.token, json: { block: { user_id: ben.id } } });
      await request(server.url, 'POST', '/account/blocks', { token: ann.token, json: { block: { user_id: vic.id } } });
      // Theirs, which must stay: a clip with an image, a message between them, an open attachment.
      const annClip = await clip(ann, 'ann clip', true);
      const annToBen = await message(ann, ben, 'ann to ben', true);
      await completeAttachment(ben, AUDIO);
      if (PROCESSING) {
        for (const id of [...clips, annClip]) await waitProcessed(server.url, `/audio_clips/${id}`, undefined);
        for (const id of [toAnn, fromAnn, annToBen]) await waitProcessed(server.url, `/account/messages/${id}`, ann.token);
        await waitProcessed(server.url, `/account/messages/${fromBen}`, vic.token);
      }

      const before = new Set(await blobKeys(server));
      // An object store keeps an unfinished upload as pieces: its attachment's own key names no object yet.
      const gone = new Set([...(await storageKeysOf(db(), vic.id))].filter((key) => before.has(key)));
      const keep = new Set([...before].filter((key) => !gone.has(key)));
      assert.ok(gone.size >= 12, `the user has ${gone.size} stored objects`);
      const othersBefore: Record<string, Record<string, number>> = { ann: await rowsNaming(db(), ann.id), ben: await rowsNaming(db(), ben.id) };

      // Proof of ownership first: the password.
      const wrong = await request(server.url, 'DELETE', '/account', { token: vic.token, json: { password: 'not the password' } });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.json.body.error.name, 'wrong_password');
      const missing = await request(server.url, 'DELETE', '/account', { token: vic.token });
      assert.equal(missing.json.body.error.name, 'missing_parameter');
      assert.equal((await request(server.url, 'GET', '/account', { token: vic.token })).status, 200, 'nothing happened yet');

      const started = Date.now();
      const erased = await request(server.url, 'DELETE', '/account', { token: vic.token, json: { password: PASSWORD } });
      assert.equal(erased.status, 204, erased.text);
      // At once: no sign-in, no profile, no messages to them.
      const stale = await request(other.url, 'GET', '/account', { token: second.json.access_token });
      assert.equal(stale.status, 401);
      assert.equal(stale.json.body.error.name, 'invalid_token');
      const signIn = await request(other.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: vic.username, password: PASSWORD } });
      assert.equal(signIn.json.error, 'invalid_grant');

      await waitErased(db(), vic.id);
      t.diagnostic(`erased ${clips.length} clips, 3 messages, 3 attachments and ${gone.size} stored objects in ${Date.now() - started} ms`);
      assert.equal((await request(server.url, 'GET', `/users/${vic.id}`)).status, 404);
      assert.equal((await request(server.url, 'GET', `/users?username=${vic.username}`)).status, 404);
      for (const id of clips) assert.equal((await request(server.url, 'GET', `/audio_clips/${id}`)).status, 404);
      const annInbox = (await request(server.url, 'GET', '/account/inbox', { token: ann.token })).json.body.messages.map((m: { title: string }) => m.title);
      assert.deepEqual(annInbox, [], "the message vic sent is gone from ann's inbox");
      const annOutbox = (await request(server.url, 'GET', '/account/outbox', { token: ann.token })).json.body.messages.map((m: { title: string }) => m.title);
      assert.deepEqual(annOutbox, ['ann to ben'], 'what ann sent vic went with vic');
      const refused = await request(server.url, 'POST', '/account/outbox', {
        token: ben.token,
        multipart: [['message[recipient_id]', String(vic.id)], ['message[uploaded_data]', AUDIO, 'm.opus']],
      });
      assert.equal(refused.json.body.error.name, 'recipient_not_found');

      // The database names the user nowhere; the store holds exactly what it held for the others.
      await assertNoRowsNaming(db(), vic.id);
      assert.deepEqual(await blobKeys(server), [...keep].sort());
      assert.ok((await othersIntact(keep)) >= 4, "the others' files, byte for byte");
      const othersAfter = { ann: await rowsNaming(db(), ann.id), ben: await rowsNaming(db(), ben.id) };
      // Only what they exchanged with vic (and ann's block of vic) went.
      const less = (name: string, changes: Record<string, number>) =>
        Object.fromEntries(Object.entries(othersBefore[name]!).map(([table, n]) => [table, n - (changes[table] ?? 0)]));
      // ann: the messages to and from vic, the files of hers (audio and image) one of them had, her block of vic.
      assert.deepEqual(othersAfter.ann, less('ann', { messages: 2, media_files: 2, blocks: 1 }));
      assert.deepEqual(othersAfter.ben, less('ben', { messages: 1, media_files: 1, blocks: 1 }));

      // Announced once.
      await receiver.until(() => receiver.received.some((r) => r.body.includes('"user.deleted"')), 30_000, 'user.deleted');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const deleted = receiver.received.filter((r) => r.body.includes('"user.deleted"'));
      assert.equal(deleted.length, 1);
      const event = new Webhook(SECRET).verify(deleted[0]!.body, deleted[0]!.headers as Record<string, string>) as { type: string; data: unknown };
      assert.deepEqual(event.data, { user: { id: vic.id, deleted: true } });
    });

    test('two DELETEs at once on two nodes: one erasure, announced once', async () => {
      const zed = await newUser(server.url, 'er_zed');
      const other2 = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: zed.username, password: PASSWORD } });
      for (let i = 0; i < 3; i += 1) await clip(zed, `zed ${i}`);
      const gone = await storageKeysOf(db(), zed.id);
      const replies = await Promise.all([
        request(server.url, 'DELETE', '/account', { token: zed.token, json: { password: PASSWORD } }),
        request(other.url, 'DELETE', '/account', { token: other2.json.access_token, json: { password: PASSWORD } }),
      ]);
      // Each answer is 204, or 401 for the one whose token the other's erasure revoked first.
      for (const reply of replies) assert.ok(reply.status === 204 || reply.status === 401, `${reply.status} ${reply.text}`);
      assert.ok(replies.some((reply) => reply.status === 204));
      await waitErased(db(), zed.id);
      await assertNoRowsNaming(db(), zed.id);
      const left = new Set(await blobKeys(server));
      assert.deepEqual([...gone].filter((key) => left.has(key)), []);
      await receiver.until(() => receiver.received.some((r) => r.body.includes(`"id":${zed.id},"deleted":true`)), 30_000, 'user.deleted for zed');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(receiver.received.filter((r) => r.body.includes(`"id":${zed.id},"deleted":true`)).length, 1);
      if (server.app.services.database.dialect === 'postgres') {
        const { sql } = await import('kysely');
        const jobs = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'account-erase' and data->>'user_id' = ${String(zed.id)}`.execute(db());
        assert.equal(jobs.rows[0]!.n, 1, 'one erasure job');
      }
    });
  });
}

describe('erasing an account of the identity provider (JWTs)', () => {
  const ISSUER = 'https://id.example.test/';
  const AUDIENCE = 'trickle-api';
  const JWT_SECRET = randomBytes(32).toString('base64');
  const receiver = new WebhookReceiver();
  let server: TestServer;
  before(async () => {
    await receiver.up();
    server = await startServer(databaseKinds()[0]!, { authJwtSecret: JWT_SECRET, authIssuer: ISSUER, authAudience: AUDIENCE, webhookUrl: receiver.url, webhookSecret: SECRET });
  });
  after(async () => {
    await server?.close();
    await receiver.down();
  });

  const jwt = (issuedSecondsAgo: number) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ preferred_username: 'jwt_erased' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('app-user-42')
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now - issuedSecondsAgo)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(JWT_SECRET));
  };

  test('needs a JWT issued in the last 5 minutes (it has no password); the event names the subject', async () => {
    const old = await jwt(400);
    const account = await request(server.url, 'GET', '/account', { token: old });
    assert.equal(account.status, 200, account.text);
    const id = account.json.body.user.id as number;
    const password = await request(server.url, 'PUT', '/account/password', { token: old, json: { password: { current: 'x', new: 'whatever123' } } });
    assert.equal(password.status, 403);
    assert.equal(password.json.body.error.name, 'forbidden');

    const stale = await request(server.url, 'DELETE', '/account', { token: old, json: { password: 'anything' } });
    assert.equal(stale.status, 403);
    assert.equal(stale.json.body.error.name, 'recent_sign_in_required');
    const fresh = await jwt(5);
    assert.equal((await request(server.url, 'DELETE', '/account', { token: fresh })).status, 204);
    // While the erasure runs the JWT signs in no more (401); the job may also have finished
    // already (a user with nothing stored takes a few ms), and then the subject is a new user.
    const after = await request(server.url, 'GET', '/account', { token: fresh });
    if (after.status === 200) assert.notEqual(after.json.body.user.id, id, 'the erased user signs in no more');
    else assert.equal(after.status, 401, 'the JWT signs in no more while the erasure runs');
    await waitErased(server.app.services.database.db, id);
    await assertNoRowsNaming(server.app.services.database.db, id);
    await receiver.until(() => receiver.received.some((r) => r.body.includes('"user.deleted"')), 30_000, 'user.deleted');
    const delivered = receiver.received.find((r) => r.body.includes('"user.deleted"'))!;
    const event = new Webhook(SECRET).verify(delivered.body, delivered.headers as Record<string, string>) as { data: unknown };
    assert.deepEqual(event.data, { user: { id, deleted: true, subject: 'app-user-42' } });
    // Once erased, the same subject signing in again is a new user.
    const again = await request(server.url, 'GET', '/account', { token: await jwt(0) });
    assert.equal(again.status, 200);
    assert.notEqual(again.json.body.user.id, id);
  });
});
