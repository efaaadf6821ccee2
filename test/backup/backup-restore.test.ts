/**
 * Backups and restores (SPEC 6, docs/operations.md), with the shipped commands and real
 * servers, on SQLite + the local disk and on PostgreSQL + S3: a backup taken while uploads
 * complete back to back needs one snapshot (its deletion hold keeps every file that snapshot
 * names), and restored into a fresh server, gives every clip of the backup byte-exact and every
 * file its records name; restored next to newer stored files (the original place), the orphan sweep
 * deletes none of them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { databaseKinds, s3Settings } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { wavHeader } from '../helpers/media.js';
import { main, reportTo } from '../../src/backup/commands.js';
import { loadConfig } from '../../src/config.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { StoredUploads } from '../helpers/stored-uploads.js';

const CHUNK = 64 * 1024;

/** Runs a command of `npm run backup|restore|kept-files` (in this process); resolves what it reported. */
async function tool(args: string[], env: Record<string, string>): Promise<{ output: string; seconds: number }> {
  const started = Date.now();
  const lines: string[] = [];
  reportTo((line) => lines.push(line));
  await main(args, { ...process.env, ...env });
  return { output: lines.join('\n'), seconds: (Date.now() - started) / 1000 };
}

/** A WAV of noise: each clip's bytes differ. */
function noiseWav(bytes: number): Buffer {
  return Buffer.concat([wavHeader(bytes), randomBytes(bytes)]);
}

/** Uploads in chunks (a pause between them, so that uploads overlap the backup), then makes a clip of it. */
async function chunkedClip(base: string, token: string, file: Buffer, title: string): Promise<number> {
  const id = await createAttachment(base, token, file.length, `${title}.wav`);
  for (let offset = 0; offset < file.length; offset += CHUNK) {
    const reply = await putRaw(base, token, id, offset, file.subarray(offset, offset + CHUNK));
    assert.equal(reply.status, 200, reply.text);
    await delay(5);
  }
  const clip = await request(base, 'POST', '/audio_clips', { token, json: { audio_clip: { title, uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(file) } } } });
  assert.equal(clip.status, 201, clip.text);
  return clip.json.body.audio_clip.id;
}

/** A server in this process on the settings `env` (as its environment would give them). */
function start(env: Record<string, string>): Promise<Node> {
  return startNode({ ...loadConfig([], { ...SERVER, ...env }), port: 0 });
}

interface Place {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

type Setup = { name: string; skip: string | false; place(): Promise<Place> };

const postgres = databaseKinds()[1]!;
const s3 = s3Settings();
const SETUPS: Setup[] = [
  {
    name: 'SQLite and the local disk',
    skip: false,
    place: async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-backup-'));
      return { env: { DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL and S3',
    skip: postgres.skip ?? (s3 ? false : 'TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh start)'),
    place: async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-backup-'));
      const database = await postgres.create(dir);
      return {
        env: { DATA_DIR: dir, DATABASE_URL: database.url, ...s3!() },
        cleanup: async () => {
          await database.drop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

const SERVER = { FFMPEG_PATH: '/nonexistent/ffmpeg', PASSWORD_HASH_LOG2N: '10', MIN_FREE_BYTES: '0', LOG_LEVEL: 'silent' };

for (const setup of SETUPS) {
  describe(`backup and restore on ${setup.name}`, { skip: setup.skip }, () => {
    test('a backup taken while uploads run restores whole; next to newer files, the sweep deletes none', { timeout: 600_000 }, async (t) => {
      const original = await setup.place();
      const fresh = await setup.place();
      const backupDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-backup-dir-'));
      const clips = new Map<number, { bytes: Buffer; when: 'before' | 'during' | 'after' }>();
      let server: Node | null = null;
      try {
        server = await start(original.env);
        const { token } = await newUser(server.url, 'backup');
        for (let i = 0; i < 4; i += 1) {
          const bytes = noiseWav(300_000 + i * 50_000);
          clips.set(await chunkedClip(server.url, token, bytes, `before-${i}`), { bytes, when: 'before' });
        }
        // Two lanes of uploads keep going while the backup runs.
        let backingUp = true;
        const lane = async (n: number) => {
          for (let i = 0; backingUp || i < 2; i += 1) {
            const bytes = noiseWav(200_000 + n * 10_000 + i * 1000);
            // Back to back: every upload that completes forgets its pieces while the backup runs,
            // which only its deletion hold keeps from deleting files the snapshot names.
            clips.set(await chunkedClip(server!.url, token, bytes, `during-${n}-${i}`), { bytes, when: 'during' });
          }
        };
        const lanes = Promise.all([lane(0), lane(1)]);
        // Awaited below; a backup that fails first must be the error reported, not the lanes' 503s as the server closes.
        lanes.catch(() => undefined);
        await delay(500);
        const backup = await tool(['backup', '--to', backupDir], { ...SERVER, ...original.env }).finally(() => (backingUp = false));
        await lanes;
        // The first snapshot did: under the backup's deletion hold, no file it names was deleted before its copy.
        assert.doesNotMatch(backup.output, /another snapshot/, 'the snapshot was taken again: files it named were deleted before they were copied');
        // The folder holds the manifest, one database file (no -wal or -shm beside it) and the files.
        assert.deepEqual((await readdir(backupDir)).sort(), [setup.name.startsWith('SQLite') ? 'database.sqlite' : 'database.pgdump', 'files', 'manifest.json']);
        for (let i = 0; i < 3; i += 1) {
          const bytes = noiseWav(250_000 + i * 1000);
          clips.set(await chunkedClip(server.url, token, bytes, `after-${i}`), { bytes, when: 'after' });
        }
        await server.close();
        server = null;

        // Into a fresh server: every clip the backup holds, byte-exact; every file its records name.
        const restore = await tool(['restore', '--from', backupDir], { ...SERVER, ...fresh.env });
        server = await start(fresh.env);
        const found = { before: 0, during: 0, after: 0 };
        for (const [id, clip] of clips) {
          const reply = await fetch(`${server.url}/audio_clips/${id}/audio`);
          if (reply.status === 404) {
            await reply.arrayBuffer();
            assert.notEqual(clip.when, 'before', `clip ${id}, made before the backup, is missing`);
            continue;
          }
          assert.equal(reply.status, 200);
          assert.ok(Buffer.from(await reply.arrayBuffer()).equals(clip.bytes), `clip ${id} (${clip.when}) differs`);
          found[clip.when] += 1;
        }
        assert.equal(found.before, 4);
        assert.equal(found.after, 0, 'clips made after the backup are not in it');
        await server.close();
        server = null;
        const restored = await StoredUploads.open({ ...SERVER, ...fresh.env });
        try {
          const stored = new Set(await restored.blobKeys());
          for (const key of await restored.namedKeys()) assert.ok(stored.has(key), `the restored records name ${key}, which is not stored`);
        } finally {
          await restored.close();
        }

        // Back in the original place, next to the newer files: the sweep keeps every one.
        const before = await StoredUploads.open({ ...SERVER, ...original.env });
        const keysBefore = await before.blobKeys();
        await before.close();
        await tool(['restore', '--from', backupDir, '--replace'], { ...SERVER, ...original.env });
        server = await start({ ...original.env, SWEEP_INTERVAL: '1', ORPHAN_GRACE: '0' });
        let kept = 0;
        for (let i = 0; i < 100 && kept === 0; i += 1) {
          await delay(200);
          const metrics = await (await fetch(`${server.url}/metrics`)).text();
          kept = Number(/^trickle_orphans_kept (\d+)$/m.exec(metrics)?.[1] ?? 0);
        }
        assert.ok(kept >= 3, `the sweep keeps the newer clips' files (kept ${kept})`);
        await delay(2500); // a few more sweeps
        const after = await StoredUploads.open({ ...SERVER, ...original.env });
        const keysAfter = new Set(await after.blobKeys());
        await after.close();
        assert.deepEqual(keysBefore.filter((key) => !keysAfter.has(key)), [], 'stored files deleted after the restore');
        const newest = [...clips].find(([, clip]) => clip.when === 'after')!;
        assert.equal((await fetch(`${server.url}/audio_clips/${newest[0]}`)).status, 404, 'the restored database is older');

        const bytes = [...clips.values()].reduce((sum, clip) => sum + clip.bytes.length, 0);
        t.diagnostic(
          `${clips.size} clips (${(bytes / 1e6).toFixed(1)} MB; ${found.during} of the ones made during the backup are in it); ` +
            `backup ${backup.seconds.toFixed(1)} s, restore into a fresh server ${restore.seconds.toFixed(1)} s; ${kept} newer files kept after the restore in place`,
        );
        console.log(`# ${setup.name}: ${backup.output.trim()}\n# ${restore.output.trim().split('\n').join('\n# ')}`);
      } finally {
        await server?.close();
        await original.cleanup();
        await fresh.cleanup();
        await rm(backupDir, { recursive: true, force: true });
      }
    });
  });
}
