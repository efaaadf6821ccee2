/** SPEC 5 (and 3.7 for messages) over real HTTP, on every database kind. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1, type MultipartEntry } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { blobKeys, startServer, type TestServer } from '../helpers/server.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Person = { token: string; id: number; username: string };

function assertError(reply: { status: number; json: Json }, status: number, name: string): void {
  assert.equal(reply.status, status, `expected ${status} ${name}, got ${reply.status} ${JSON.stringify(reply.json)}`);
  assert.equal(reply.json.body.error.name, name);
}

for (const kind of databaseKinds()) {
  describe(`messages on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let ann: Person;
    let ben: Person;
    let eve: Person;

    before(async () => {
      // Media processing off: these tests count stored files, which its renditions would add in
      // the background (test/media/processing.test.ts covers processing and its files).
      server = await startServer(kind, { ffmpegPath: '/nonexistent/ffmpeg' });
      base = server.url;
      [ann, ben, eve] = [await newUser(base, 'ann'), await newUser(base, 'ben'), await newUser(base, 'eve')];
    });
    after(() => server.close());

    function send(from: Person, fields: Record<string, string>, files: MultipartEntry[] = [['message[uploaded_data]', fixture('tone.opus'), 'hi.opus']]) {
      const entries: MultipartEntry[] = Object.entries(fields).map(([k, v]) => [`message[${k}]`, v]);
      return request(base, 'POST', '/account/outbox', { token: from.token, multipart: [...entries, ...files] });
    }

    async function blobCount(): Promise<number> {
      return (await blobKeys(server)).length;
    }

    test('send as a file part or from an attachment; both sides see it, nobody else does', async () => {
      const sent = await send(ann, { recipient_id: String(ben.id), title: 'Hello' });
      assert.equal(sent.status, 201, sent.text);
      const message = sent.json.body.message;
      assert.equal(sent.headers.get('location'), `/account/messages/${message.id}`);
      assert.deepEqual(message.sender, { id: ann.id, username: ann.username });
      assert.deepEqual(message.recipient, { id: ben.id, username: ben.username });
      assert.equal(message.title, 'Hello');
      assert.equal(message.played, false);
      assert.equal(message.parent_id, null);
      assert.ok(Math.abs(message.duration - 1) < 0.1);
      assert.equal(message.audio.content_type, 'audio/ogg');
      assert.equal(message.urls.audio, `/account/messages/${message.id}/audio`);

      const data = fixture('tone.mp3');
      const attachment = await createAttachment(base, ann.token, data.length);
      await putRaw(base, ann.token, attachment, 0, data);
      const fromAttachment = await request(base, 'POST', '/account/outbox', {
        token: ann.token,
        json: { message: { recipient_id: ben.id, uploaded_data: { chunked_attachment_id: attachment, fingerprint: sha1(data) } } },
      });
      assert.equal(fromAttachment.status, 201, fromAttachment.text);
      const status = (await request(base, 'GET', `/attachments/${attachment}`, { token: ann.token })).json.body.attachment;
      assert.deepEqual(status.used_by, { type: 'message', id: fromAttachment.json.body.message.id });

      for (const who of [ann, ben]) {
        const seen = await request(base, 'GET', `/account/messages/${message.id}`, { token: who.token });
        assert.equal(seen.status, 200);
        assert.equal(seen.json.body.message.id, message.id);
        const audio = await fetch(`${base}/account/messages/${message.id}/audio`, { headers: { authorization: `Bearer ${who.token}` } });
        assert.equal(audio.status, 200);
        assert.equal(audio.headers.get('cache-control'), 'private, max-age=0, must-revalidate');
        assert.ok(Buffer.from(await audio.arrayBuffer()).equals(fixture('tone.opus')));
      }
      assertError(await request(base, 'GET', `/account/messages/${message.id}`, { token: eve.token }), 404, 'not_found');
      assertError(await request(base, 'GET', `/account/messages/${message.id}/audio`, { token: eve.token }), 404, 'not_found');
      assertError(await request(base, 'PUT', `/account/messages/${message.id}`, { token: eve.token, form: { 'message[played]': '1' } }), 404, 'not_found');
      assertError(await request(base, 'DELETE', `/account/messages/${message.id}`, { token: eve.token }), 404, 'not_found');
      assertError(await request(base, 'GET', `/account/messages/${message.id}`), 401, 'authentication_required');
      assertError(await request(base, 'GET', `/account/messages/${message.id}/audio`), 401, 'authentication_required');

      const inbox = (await request(base, 'GET', '/account/inbox', { token: ben.token })).json.body.messages;
      assert.deepEqual(inbox.map((m: Json) => m.id), [fromAttachment.json.body.message.id, message.id]);
      const outbox = (await request(base, 'GET', '/account/outbox?page%5Bitems%5D=1', { token: ann.token })).json.body.messages;
      assert.deepEqual(outbox.map((m: Json) => m.id), [fromAttachment.json.body.message.id]);
      assert.deepEqual((await request(base, 'GET', '/account/inbox', { token: eve.token })).json.body.messages, []);
      assert.deepEqual((await request(base, 'GET', '/account/inbox', { token: ann.token })).json.body.messages, []);
      assertError(await request(base, 'GET', '/account/inbox'), 401, 'authentication_required');
    });

    test('replies, recipients and parents are checked', async () => {
      const first = (await send(ann, { recipient_id: String(ben.id) })).json.body.message;
      const reply = await send(ben, { recipient_id: String(ann.id), parent_id: String(first.id), title: 'Re' });
      assert.equal(reply.status, 201, reply.text);
      assert.equal(reply.json.body.message.parent_id, first.id);
      assertError(await send(eve, { recipient_id: String(ann.id), parent_id: String(first.id) }), 422, 'parent_not_found');
      assertError(await send(ann, { recipient_id: String(ben.id), parent_id: '99999999' }), 422, 'parent_not_found');
      assertError(await send(ann, { recipient_id: '99999999' }), 422, 'recipient_not_found');
      assertError(await send(ann, { recipient_id: 'ben' }), 400, 'invalid_parameter');
      assertError(await send(ann, {}), 400, 'missing_parameter');
      assertError(await send(ann, { recipient_id: String(ben.id) }, []), 400, 'missing_parameter');
      assertError(await send(ann, { recipient_id: String(ben.id) }, [['message[uploaded_data]', fixture('not-audio.txt'), 'a.mp3']]), 422, 'unsupported_audio');
      assertError(
        await send(ann, { recipient_id: String(ben.id) }, [['message[uploaded_data]', fixture('tone.wav'), 'a.wav'], ['message[uploaded_image]', fixture('cover.gif'), 'c.gif']]),
        422,
        'unsupported_image',
      );
      assertError(await request(base, 'POST', '/account/outbox', { token: ann.token, json: { message: { recipient_id: ben.id, uploaded_data: { chunked_attachment_id: 99999999 } } } }), 422, 'attachment_not_found');
      const blobs = await blobCount();
      assertError(await send(ann, { recipient_id: '99999999' }), 422, 'recipient_not_found');
      assert.equal(await blobCount(), blobs, 'a refused message left its file behind');
    });

    test('only the recipient marks a message played', async () => {
      const message = (await send(ann, { recipient_id: String(ben.id) })).json.body.message;
      assertError(await request(base, 'PUT', `/account/messages/${message.id}`, { token: ann.token, form: { 'message[played]': '1' } }), 403, 'forbidden');
      const played = await request(base, 'PUT', `/account/messages/${message.id}`, { token: ben.token, json: { message: { played: true } } });
      assert.equal(played.status, 200, played.text);
      assert.equal(played.json.body.message.played, true);
      const unplayed = await request(base, 'PUT', `/account/messages/${message.id}`, { token: ben.token, form: { 'message[played]': '0' } });
      assert.equal(unplayed.json.body.message.played, false);
      assertError(await request(base, 'PUT', `/account/messages/${message.id}`, { token: ben.token, form: { 'message[played]': 'maybe' } }), 400, 'invalid_parameter');
    });

    test('deleting hides a message from one side; when both have deleted it, it is gone with its files', async () => {
      const message = (await send(ann, { recipient_id: String(ben.id) }, [['message[uploaded_data]', fixture('tone.wav'), 'a.wav'], ['message[uploaded_image]', fixture('cover.png'), 'c.png']])).json.body.message;
      assert.equal(message.image.content_type, 'image/png');
      const blobs = await blobCount();
      assert.equal((await request(base, 'DELETE', `/account/messages/${message.id}`, { token: ann.token })).status, 204);
      assertError(await request(base, 'GET', `/account/messages/${message.id}`, { token: ann.token }), 404, 'not_found');
      assert.equal((await request(base, 'GET', `/account/messages/${message.id}`, { token: ben.token })).status, 200);
      assert.ok(!(await request(base, 'GET', '/account/outbox', { token: ann.token })).json.body.messages.some((m: Json) => m.id === message.id));
      assert.equal(await blobCount(), blobs);
      assert.equal((await request(base, 'DELETE', `/account/messages/${message.id}`, { token: ben.token })).status, 204);
      assertError(await request(base, 'GET', `/account/messages/${message.id}`, { token: ben.token }), 404, 'not_found');
      assert.equal(await blobCount(), blobs - 2);
    });

    test('uuid makes sends safe to retry', async () => {
      const first = await send(ann, { recipient_id: String(ben.id), uuid: 'm-1' });
      const again = await send(ann, { recipient_id: String(ben.id), uuid: 'm-1' });
      assert.equal(first.status, 201);
      assert.equal(again.status, 200);
      assert.equal(again.json.body.message.id, first.json.body.message.id);
    });
  });
}
