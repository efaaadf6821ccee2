/**
 * SPEC 10, blocking: a blocked user's messages to the blocker are refused as if there were no
 * such recipient, the blocker's inbox hides what they sent before (until unblocked), and
 * blocking goes one way only. Over real HTTP and the SDK, on every database kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleClient } from '../../src/client/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

type Person = { token: string; id: number; username: string };
const AUDIO = fixture('tone.opus');

for (const kind of databaseKinds()) {
  describe(`blocking on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    before(async () => {
      server = await startServer(kind, { ffmpegPath: '/nonexistent/ffmpeg' });
      base = server.url;
    });
    after(() => server.close());

    const send = (from: Person, to: Person, title: string) =>
      request(base, 'POST', '/account/outbox', {
        token: from.token,
        multipart: [['message[recipient_id]', String(to.id)], ['message[title]', title], ['message[uploaded_data]', AUDIO, 'hi.opus']],
      });
    const inboxTitles = async (person: Person) => (await request(base, 'GET', '/account/inbox', { token: person.token })).json.body.messages.map((m: { title: string }) => m.title);

    test("a blocked sender is refused as an unknown recipient; the blocker's inbox hides what came before", async () => {
      const [ann, ben, eve] = [await newUser(base, 'bl_ann'), await newUser(base, 'bl_ben'), await newUser(base, 'bl_eve')];
      const before = await send(ben, ann, 'before the block');
      assert.equal(before.status, 201, before.text);
      assert.equal((await send(eve, ann, 'from eve')).status, 201);
      assert.deepEqual(await inboxTitles(ann), ['from eve', 'before the block']);

      const blocked = await request(base, 'POST', '/account/blocks', { token: ann.token, form: { 'block[user_id]': String(ben.id) } });
      assert.equal(blocked.status, 201, blocked.text);
      assert.deepEqual(blocked.json.body.block.user, { id: ben.id, username: ben.username });
      const again = await request(base, 'POST', '/account/blocks', { token: ann.token, json: { block: { user_id: ben.id } } });
      assert.equal(again.status, 200, 'blocking twice is harmless');
      assert.equal(again.json.body.block.created_at, blocked.json.body.block.created_at);

      // The sender learns nothing more than that there is no such recipient; a chunked
      // attachment it meant to use stays complete, to be sent elsewhere.
      const attachment = await createAttachment(base, ben.token, AUDIO.length, 'hi.opus');
      assert.equal((await putRaw(base, ben.token, attachment, 0, AUDIO)).status, 200);
      const refused = await request(base, 'POST', '/account/outbox', {
        token: ben.token,
        json: { message: { recipient_id: ann.id, uploaded_data: { chunked_attachment_id: attachment } } },
      });
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.json.body.error.name, 'recipient_not_found');
      const unknown = await request(base, 'POST', '/account/outbox', { token: ben.token, json: { message: { recipient_id: 99_999_999, uploaded_data: { chunked_attachment_id: attachment } } } });
      assert.equal(unknown.json.body.error.description, refused.json.body.error.description, 'the same answer as for nobody');
      assert.equal((await request(base, 'GET', `/attachments/${attachment}`, { token: ben.token })).json.body.attachment.state, 'complete');
      assert.equal((await send(ben, ann, 'after the block')).json.body.error.name, 'recipient_not_found');

      assert.deepEqual(await inboxTitles(ann), ['from eve'], "the blocked sender's earlier message is hidden");
      assert.equal((await request(base, 'GET', `/account/messages/${before.json.body.message.id}`, { token: ann.token })).status, 200, 'hidden, not deleted');
      // One way: ann still writes to ben, and eve is not affected.
      assert.equal((await send(ann, ben, 'ann to ben')).status, 201);
      assert.deepEqual(await inboxTitles(ben), ['ann to ben']);
      assert.equal((await send(eve, ann, 'eve again')).status, 201);

      const list = await request(base, 'GET', '/account/blocks', { token: ann.token });
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.body.blocks.map((b: { user: { id: number } }) => b.user.id), [ben.id]);
      assert.deepEqual((await request(base, 'GET', '/account/blocks', { token: ben.token })).json.body.blocks, []);

      const unblocked = await request(base, 'DELETE', `/account/blocks/${ben.id}`, { token: ann.token });
      assert.equal(unblocked.status, 204);
      assert.deepEqual(await inboxTitles(ann), ['eve again', 'from eve', 'before the block']);
      assert.equal((await send(ben, ann, 'after the unblock')).status, 201);
      assert.equal((await request(base, 'DELETE', `/account/blocks/${ben.id}`, { token: ann.token })).status, 404);
    });

    test('bad requests: oneself, nobody, nothing, no token', async () => {
      const cat = await newUser(base, 'bl_cat');
      const post = (body: unknown, token: string | undefined = cat.token) => request(base, 'POST', '/account/blocks', { ...(token ? { token } : {}), json: body });
      const self = await post({ block: { user_id: cat.id } });
      assert.equal(self.status, 400);
      assert.equal(self.json.body.error.details.parameter, 'block[user_id]');
      const nobody = await post({ block: { user_id: 99_999_999 } });
      assert.equal(nobody.status, 422);
      assert.equal(nobody.json.body.error.name, 'user_not_found');
      assert.equal((await post({})).json.body.error.name, 'missing_parameter');
      assert.equal((await post({ block: { user_id: 'x' } })).json.body.error.name, 'invalid_parameter');
      assert.equal((await post({ block: { user_id: 1 } }, '')).status, 401);
      assert.equal((await request(base, 'GET', '/account/blocks')).status, 401);
      assert.equal((await request(base, 'DELETE', '/account/blocks/abc', { token: cat.token })).status, 404);
    });

    test('SDK: block, blocks, unblock', async () => {
      const [dan, fay] = [await newUser(base, 'bl_dan'), await newUser(base, 'bl_fay')];
      const client = new TrickleClient({ server: base, token: dan.token });
      const block = await client.block(fay.id);
      assert.deepEqual(block.user, { id: fay.id, username: fay.username });
      assert.deepEqual((await client.blocks()).map((b) => b.user.id), [fay.id]);
      await client.unblock(fay.id);
      assert.deepEqual(await client.blocks(), []);
      await assert.rejects(client.unblock(fay.id), (error) => error instanceof TrickleApiError && error.errorName === 'not_found');
      await assert.rejects(client.block(99_999_999), (error) => error instanceof TrickleApiError && error.errorName === 'user_not_found');
    });
  });
}
