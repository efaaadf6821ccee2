/**
 * Orphaned blobs are swept, but never the newer files of a database restored from a backup;
 * registration and token requests are rate-limited.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SqlSweepLedger } from '../../src/db/repositories/sweep-ledger.js';
import { databaseKinds, storageKinds } from '../helpers/databases.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { createAttachment, newUser, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { waitProcessed } from '../helpers/processing.js';
import { blobKeys, startServer, TestClock } from '../helpers/server.js';

for (const kind of databaseKinds()) {
  describe(`maintenance on ${kind.name}`, { skip: kind.skip }, () => {
    test('the orphan sweep deletes old blobs that no record names, and nothing else', async () => {
      const clock = new TestClock(Date.now() + 2 * 3600 * 1000); // blobs written now are old to this clock
      const server = await startServer(kind, { orphanGraceSeconds: 3600 }, clock);
      try {
        const { token } = await newUser(server.url, 'orphans');
        const attachment = await createAttachment(server.url, token, 100);
        await putRaw(server.url, token, attachment, 0, Buffer.alloc(50, 7));
        const clip = await request(server.url, 'POST', '/audio_clips', { token, multipart: [['audio_clip[title]', 't'], ['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']] });
        assert.equal(clip.status, 201);
        // Its renditions (MP3, waveform) are files the database names: the sweep keeps them.
        await waitProcessed(server.url, clip.json.body.audio_clip.urls.detail, undefined);
        const blobs = path.join(server.dataDir, 'blobs');
        const stray = '00000000-0000-4000-8000-000000000000';
        await writeFile(path.join(blobs, stray), 'left by a crash');
        const before = (await readdir(blobs)).length;
        assert.equal((await server.app.services.orphans.sweep()).deleted, 1);
        const after = await readdir(blobs);
        assert.equal(after.length, before - 1);
        assert.ok(!after.includes(stray));
        // A young orphan is spared: its row may be about to commit.
        clock.current = Date.now();
        await writeFile(path.join(blobs, stray), 'just written');
        assert.equal((await server.app.services.orphans.sweep()).deleted, 0);
        assert.equal((await request(server.url, 'GET', `/attachments/${attachment}`, { token })).json.body.attachment.received_bytes, 50);
      } finally {
        await server.close();
      }
    });
  });
}

for (const kind of storageKinds().filter((k) => k.name.startsWith('sqlite'))) {
  describe(`a restored database on ${kind.name}`, { skip: kind.skip }, () => {
    test('the sweep keeps the newer stored files the restored database does not name, until released', async () => {
      const clock = new TestClock();
      const server = await startServer(kind, { orphanGraceSeconds: 3600, ffmpegPath: '/nonexistent/ffmpeg' }, clock);
      const backup = path.join(server.dataDir, 'backup.sqlite');
      let restored: Node | null = null;
      try {
        const { token } = await newUser(server.url, 'restore');
        const clip = async (title: string, bytes: Buffer) => {
          const reply = await request(server.url, 'POST', '/audio_clips', { token, multipart: [['audio_clip[title]', title], ['audio_clip[uploaded_data]', bytes, title === 'older' ? 'older.wav' : 'newer.flac']] });
          assert.equal(reply.status, 201, reply.text);
          return reply.json.body.audio_clip.id as number;
        };
        const older = await clip('older', fixture('tone.wav'));
        await server.app.services.orphans.sweep();
        // The backup (SQLite's own copy of a live database), then newer bytes and a sweep as time goes on.
        const sqlite = new Database(server.config.databaseUrl);
        sqlite.exec(`VACUUM INTO '${backup}'`);
        sqlite.close();
        await clip('newer', fixture('tone.flac'));
        await server.app.services.orphans.sweep();
        const stored = await blobKeys(server);
        await server.app.http.close();

        // The backup replaces the database; the stored files stay as they are. Hours later to the sweep.
        for (const suffix of ['', '-wal', '-shm']) await rm(server.config.databaseUrl + suffix, { force: true });
        await copyFile(backup, server.config.databaseUrl);
        clock.advance(10 * 3600 * 1000);
        restored = await startNode(server.config, clock);
        const first = await restored.app.services.orphans.sweep();
        assert.ok(first.restoreFound, 'the sweep saw the database behind the storage');
        assert.equal(first.deleted, 0, 'nothing is deleted');
        assert.ok(first.kept >= 1, 'the newer clip\'s file is kept');
        assert.deepEqual(await blobKeys(restored), stored, 'every stored file is still there');
        const again = await restored.app.services.orphans.sweep();
        assert.deepEqual([again.deleted, again.kept, again.restoreFound], [0, first.kept, null], 'later sweeps keep them too, without a new finding');
        const audio = await fetch(`${restored.url}/audio_clips/${older}/audio`);
        assert.equal(audio.status, 200);
        assert.ok(Buffer.from(await audio.arrayBuffer()).equals(fixture('tone.wav')));

        // An operator's decision releases them: then they go as orphans do.
        assert.equal(await new SqlSweepLedger(restored.app.services.database).releaseKept(), 1);
        const released = await restored.app.services.orphans.sweep();
        assert.deepEqual([released.deleted, released.kept], [first.kept, 0]);
      } finally {
        await restored?.close();
        await server.close().catch(() => undefined);
      }
    });
  });
}

describe('rate limits', () => {
  test('registration and token requests beyond the limit answer 429 rate_limited with Retry-After', async () => {
    const server = await startServer(databaseKinds()[0]!, { registrationRateLimit: 3, tokenRateLimit: 4 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const reply = await request(server.url, 'POST', '/users', { json: { user: { username: `rate_${i}`, email: `r${i}@example.com`, password: 'password1' } } });
        statuses.push(reply.status);
        if (reply.status === 429) {
          assert.equal(reply.json.body.error.name, 'rate_limited');
          assert.ok(Number(reply.headers.get('retry-after')) > 0);
        }
      }
      assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
      const tokens: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        tokens.push((await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'rate_0', password: i % 2 ? 'password1' : 'wrong-one' } })).status);
      }
      assert.deepEqual(tokens, [400, 200, 400, 200, 429, 429]);
      // Other endpoints are not limited.
      assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
    } finally {
      await server.close();
    }
  });
});
