/**
 * A backup's hold on blob deletions, on S3 (uploads kept as pieces) with SQLite and with
 * PostgreSQL: while it lasts, an upload that completes, an attachment deleted and a clip deleted
 * leave their files, named by nothing, and the orphan sweep deletes none; once released (or lapsed), the
 * sweep deletes them and completions delete their pieces again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqlBlobReferences } from '../../src/db/repositories/blob-references.js';
import { SqlDeletionHolds } from '../../src/db/repositories/deletion-holds.js';
import { storageKinds } from '../helpers/databases.js';
import { randomBytes } from 'node:crypto';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { wavHeader } from '../helpers/media.js';
import { blobKeys, startServer, TestClock, type TestServer } from '../helpers/server.js';

const CHUNK = 64 * 1024;

/** Stored blobs that no record names. */
async function unnamed(server: TestServer): Promise<string[]> {
  const keys = await blobKeys(server);
  const named = await new SqlBlobReferences(server.app.services.database).referenced(keys);
  return keys.filter((key) => !named.has(key));
}

/** Uploads `file` in chunks (one piece each); resolves the attachment's id once its last chunk is in. */
async function upload(server: TestServer, token: string, file: Buffer, chunks = Math.ceil(file.length / CHUNK)): Promise<{ id: number; state: string }> {
  const id = await createAttachment(server.url, token, file.length);
  let state = '';
  for (let i = 0; i < chunks; i += 1) {
    const reply = await putRaw(server.url, token, id, i * CHUNK, file.subarray(i * CHUNK, (i + 1) * CHUNK));
    assert.equal(reply.status, 200, reply.text);
    state = reply.json.body.attachment.state;
  }
  return { id, state };
}

/** A clip of a small WAV sent as one chunk; resolves its id. */
async function clip(server: TestServer, token: string): Promise<number> {
  const file = Buffer.concat([wavHeader(CHUNK), randomBytes(CHUNK)]);
  const id = await createAttachment(server.url, token, file.length, 'held.wav');
  const chunk = await putRaw(server.url, token, id, 0, file);
  assert.equal(chunk.status, 200, chunk.text);
  const created = await request(server.url, 'POST', '/audio_clips', {
    token,
    json: { audio_clip: { title: 'held', uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(file) } } },
  });
  assert.equal(created.status, 201, created.text);
  return created.json.body.audio_clip.id;
}

const kinds = [...storageKinds('sqlite'), ...storageKinds('postgres')].filter((kind) => kind.name.endsWith('+s3'));
for (const kind of kinds) {
  describe(`the deletion hold on ${kind.name}`, { skip: kind.skip }, () => {
    test('held, forgotten files stay and the sweep spares them; released, the sweep deletes them', async () => {
      // Blobs written now are past the grace to this clock: only the hold spares them.
      const clock = new TestClock(Date.now() + 2 * 3600 * 1000);
      const server = await startServer(kind, { orphanGraceSeconds: 3600, ffmpegPath: '/nonexistent/ffmpeg' }, clock);
      const holds = new SqlDeletionHolds(server.app.services.database);
      try {
        const { token } = await newUser(server.url, 'hold');
        assert.deepEqual(await unnamed(server), []);

        const clipId = await clip(server, token);
        await holds.hold('a backup', clock.now() + 60_000);
        assert.equal((await upload(server, token, randomFile(3 * CHUNK))).state, 'complete');
        const partial = await upload(server, token, randomFile(3 * CHUNK), 2);
        assert.equal(partial.state, 'uploading');
        assert.equal((await request(server.url, 'DELETE', `/attachments/${partial.id}`, { token })).status, 204);
        assert.equal((await request(server.url, 'DELETE', `/audio_clips/${clipId}`, { token })).status, 204);
        // The completed upload's three pieces, the deleted one's two, the deleted clip's audio: forgotten, not deleted.
        const left = await unnamed(server);
        assert.equal(left.length, 6, `files left by the hold: ${left.join(', ')}`);
        const held = await server.app.services.orphans.sweep();
        assert.deepEqual([held.deleted, held.held], [0, 6], 'the sweep deletes nothing while the hold lasts');
        assert.deepEqual(await unnamed(server), left);

        // A hold that lapsed (its backup died) holds nothing: completions delete their pieces again.
        await holds.release('a backup');
        await holds.hold('a backup that died', clock.now() - 1);
        assert.equal((await upload(server, token, randomFile(2 * CHUNK))).state, 'complete');
        assert.deepEqual(await unnamed(server), left, 'the pieces of an upload completed with no current hold are deleted');
        const released = await server.app.services.orphans.sweep();
        assert.deepEqual([released.deleted, released.held], [6, 0], 'the sweep deletes what the hold left');
        assert.deepEqual(await unnamed(server), []);
      } finally {
        await server.close();
      }
    });
  });
}
