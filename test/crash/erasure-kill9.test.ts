/**
 * SPEC 10: an erasure survives a crash. A user with a few hundred clips is erased; the server is
 * frozen (SIGSTOP) as soon as the erasure has deleted part of it, checked to be midway, killed
 * with SIGKILL and started again on the same data: the job finishes, nothing of the user is
 * left in the database or the store, and another user's clip is untouched. On SQLite with the
 * local disk, and on PostgreSQL with S3.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.js';
import { openBlobStore } from '../../src/storage/open-store.js';
import { loadConfig } from '../../src/config.js';
import { storageKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { assertNoRowsNaming, storageKeysOf, waitErased } from '../helpers/user-data.js';

const AUDIO = fixture('tone.opus');
const PASSWORD = 'correct horse battery';

const kinds = storageKinds('postgres').filter((kind) => kind.name === 'sqlite' || kind.name === 'postgres+s3');

for (const kind of kinds) {
  describe(`an erasure across a kill -9 on ${kind.name}`, { skip: kind.skip }, () => {
    test('frozen and killed midway, it finishes after the restart', { timeout: 600_000 }, async (t) => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-erase-kill-'));
      const database = await kind.create(dataDir);
      const env = {
        DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        PASSWORD_HASH_LOG2N: '10',
        MIN_FREE_BYTES: '0',
        LOG_LEVEL: 'warn',
        REGISTRATION_RATE_LIMIT: '0',
        TOKEN_RATE_LIMIT: '0',
        FFMPEG_PATH: '/nonexistent/ffmpeg',
        ...(kind.storage?.() ?? {}),
      };
      // The test's own view of the same database and store (its scratch folder apart from the server's).
      const config = loadConfig([], env);
      const watcher = await openDatabase({ url: database.url, durable: false });
      const store = await openBlobStore(config, path.join(dataDir, 'test-scratch'));
      let server: ServerProcess | null = await startServerProcess(env);
      try {
        const clips = kind.storage ? 150 : 400;
        const [vic, ann] = [await newUser(server.base, 'kill_vic'), await newUser(server.base, 'kill_ann')];
        let next = 0;
        const lane = async () => {
          while (next < clips) {
            const i = next++;
            const reply = await request(server!.base, 'POST', '/audio_clips', {
              token: vic.token,
              multipart: [['audio_clip[title]', `clip ${i}`], ['audio_clip[uploaded_data]', AUDIO, 'a.opus']],
            });
            assert.equal(reply.status, 201, reply.text);
          }
        };
        await Promise.all(Array.from({ length: 6 }, lane));
        const annClip = await request(server.base, 'POST', '/audio_clips', { token: ann.token, multipart: [['audio_clip[title]', 'stays'], ['audio_clip[uploaded_data]', AUDIO, 'a.opus']] });
        assert.equal(annClip.status, 201);
        const vicKeys = await storageKeysOf(watcher.db, vic.id);
        const annKeys = await storageKeysOf(watcher.db, ann.id);
        assert.equal(vicKeys.size, clips);

        assert.equal((await request(server.base, 'DELETE', '/account', { token: vic.token, json: { password: PASSWORD } })).status, 204);
        const count = async (query: ReturnType<typeof sql<{ n: number }>>) => Number((await query.execute(watcher.db)).rows[0]!.n);
        const clipsLeft = () => count(sql`select count(*) as n from audio_clips where user_id = ${vic.id}`);
        const pending = () => count(sql`select count(*) as n from blob_deletions where user_id = ${vic.id}`);
        const deadline = Date.now() + 60_000;
        while ((await clipsLeft()) === clips && (await pending()) === 0) {
          assert.ok(Date.now() < deadline, 'the erasure did not start');
          await delay(1);
        }
        server.child.kill('SIGSTOP');
        const atKill = { clipsLeft: await clipsLeft(), pendingDeletions: await pending(), objectsLeft: 0 };
        for await (const blob of store.listBlobs()) if (vicKeys.has(blob.key)) atKill.objectsLeft += 1;
        const user = await watcher.db.selectFrom('users').select('state').where('id', '=', vic.id).executeTakeFirst();
        assert.equal(user?.state, 'erasing', 'killed midway: the user is still there');
        t.diagnostic(`at the kill: ${atKill.clipsLeft} of ${clips} clips left, ${atKill.pendingDeletions} deletions pending, ${atKill.objectsLeft} of ${clips} objects left`);
        await server.kill9();
        server = null;

        const restarted = Date.now();
        server = await startServerProcess(env);
        await waitErased(watcher.db, vic.id, 120_000);
        t.diagnostic(`finished ${Math.round((Date.now() - restarted) / 100) / 10} s after the restart (the dead run's lease lapses first)`);
        await assertNoRowsNaming(watcher.db, vic.id);
        const left: string[] = [];
        for await (const blob of store.listBlobs()) left.push(blob.key);
        assert.deepEqual(left.filter((key) => vicKeys.has(key)), [], 'no object of the user is left');
        assert.ok([...annKeys].every((key) => left.includes(key)), "the other user's objects stay");
        const stays = await request(server.base, 'GET', `/audio_clips/${annClip.json.body.audio_clip.id}/audio`);
        assert.deepEqual(Buffer.from(await (await fetch(`${server.base}/audio_clips/${annClip.json.body.audio_clip.id}/audio`)).arrayBuffer()), AUDIO);
        assert.equal(stays.status, 200);
      } finally {
        await server?.kill9();
        await store.close();
        await watcher.close();
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}
