/** Every SDK wrapper against the real server, and errors surfacing as typed errors with the SPEC's names. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleClient, TrickleNetworkError, upload } from '../../src/client/node.js';
import { databaseKinds } from '../helpers/databases.js';
import { sha1 } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

function apiError(status: number, name: string) {
  return (error: unknown) => error instanceof TrickleApiError && error.status === status && error.errorName === name;
}

for (const kind of databaseKinds()) {
  describe(`SDK API wrappers on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let alice: TrickleClient;
    let bob: TrickleClient;

    before(async () => {
      server = await startServer(kind);
      alice = new TrickleClient({ server: server.url });
      bob = new TrickleClient({ server: server.url });
      for (const [client, name] of [[alice, 'sdk_alice'], [bob, 'sdk_bob']] as const) {
        await client.register({ username: name, email: `${name}@example.com`, password: 'password1' });
        await client.login(name, 'password1');
      }
    });
    after(() => server.close());

    test('users and tokens', async () => {
      const account = await alice.account();
      assert.equal(account.username, 'sdk_alice');
      assert.equal(account.limits.max_attachment_size, server.config.maxAttachmentSize);
      assert.deepEqual(await alice.user(account.id), { id: account.id, username: 'sdk_alice', messaging_enabled: true });
      assert.equal((await bob.userByName('SDK_ALICE')).id, account.id);
      await assert.rejects(new TrickleClient({ server: server.url }).login('sdk_alice', 'wrong-password'), apiError(400, 'invalid_grant'));
      await assert.rejects(new TrickleClient({ server: server.url }).account(), apiError(401, 'authentication_required'));
      await assert.rejects(alice.userByName('nobody_at_all'), apiError(404, 'not_found'));
      await assert.rejects(new TrickleClient({ server: 'http://127.0.0.1:9' }).account(), TrickleNetworkError);
    });

    test('attachments, clips and their errors', async () => {
      const flac = fixture('tone.flac');
      const attachment = await alice.createAttachment(flac.length, 'tone.flac');
      const half = Math.floor(flac.length / 2);
      await alice.putChunk(attachment.id, { offset: 0, bytes: flac.subarray(0, half), sha1: sha1(flac.subarray(0, half)) });
      await assert.rejects(alice.putChunk(attachment.id, { offset: half, bytes: flac.subarray(half), sha1: '0'.repeat(40) }), apiError(422, 'chunk_checksum_mismatch'));
      const incomplete = alice.createClip({ title: 'early', audio: { chunked_attachment_id: attachment.id } });
      await assert.rejects(incomplete, (error: unknown) => apiError(422, 'attachment_incomplete')(error) && (error as TrickleApiError).details?.missing !== undefined);
      const done = await alice.putChunk(attachment.id, { offset: half, bytes: flac.subarray(half) });
      assert.equal(done.sha1, sha1(flac));
      await assert.rejects(bob.attachment(attachment.id), apiError(404, 'not_found'));
      await assert.rejects(alice.createClip({ title: 'x', audio: { chunked_attachment_id: attachment.id, fingerprint: '0'.repeat(40) } }), apiError(422, 'fingerprint_mismatch'));

      const made = await alice.createClip({ title: 'Tone', description: 'a test', tags: ['a', 'b'], uuid: 'sdk-uuid-1', audio: { chunked_attachment_id: attachment.id, fingerprint: done.sha1! } });
      assert.equal(made.created, true);
      const again = await alice.createClip({ title: 'Tone', uuid: 'sdk-uuid-1', audio: { chunked_attachment_id: attachment.id } });
      assert.deepEqual([again.created, again.clip.id], [false, made.clip.id]);
      assert.equal((await alice.attachment(attachment.id)).state, 'used');

      assert.equal((await bob.clip(made.clip.id)).title, 'Tone');
      assert.deepEqual((await bob.clips({ query: 'test' })).map((c) => c.id), [made.clip.id]);
      assert.deepEqual((await alice.clips({ mine: true })).map((c) => c.id), [made.clip.id]);
      assert.deepEqual((await bob.clips({ userId: made.clip.user.id, items: 1, page: 2 })).length, 0);
      const range = await bob.download(made.clip.urls.audio, { range: [10, 20] });
      assert.equal(range.status, 206);
      assert.deepEqual(Buffer.from(await range.arrayBuffer()), flac.subarray(10, 20));
      assert.equal((await alice.updateClip(made.clip.id, { title: 'Renamed', tags: ['c'] })).title, 'Renamed');
      await assert.rejects(bob.updateClip(made.clip.id, { title: 'mine now' }), apiError(403, 'forbidden'));
      await bob.deleteAttachment((await bob.createAttachment(10)).id);
      await alice.deleteClip(made.clip.id);
      await assert.rejects(alice.clip(made.clip.id), apiError(404, 'not_found'));
    });

    test('messages', async () => {
      const bobId = (await bob.account()).id;
      const audio = await upload(fixture('tone.mp3'), { client: alice });
      const { message } = await alice.sendMessage({ recipientId: bobId, title: 'hello', audio: { chunked_attachment_id: audio.attachmentId, fingerprint: audio.fingerprint } });
      assert.deepEqual((await bob.inbox()).map((m) => m.id), [message.id]);
      assert.deepEqual((await alice.outbox()).map((m) => m.id), [message.id]);
      assert.equal((await bob.markPlayed(message.id)).played, true);
      assert.equal((await alice.message(message.id)).played, true);
      const heard = await bob.download(message.urls.audio);
      assert.equal(sha1(Buffer.from(await heard.arrayBuffer())), sha1(fixture('tone.mp3')));
      await assert.rejects(alice.sendMessage({ recipientId: 99_999_999, audio: { chunked_attachment_id: audio.attachmentId } }), apiError(422, 'recipient_not_found'));
      await bob.deleteMessage(message.id);
      assert.deepEqual(await bob.inbox(), []);
    });
  });
}
