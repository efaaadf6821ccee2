/**
 * Media jobs are durable: the server process killed with SIGKILL in the middle of processing a
 * clip finishes it after a restart (on both databases). Without ffmpeg the server still works,
 * says so once at start, and clips report processing "unavailable".
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { mediaToolsMissing, waitProcessed } from '../helpers/processing.js';
import { startServerProcess } from '../helpers/server-process.js';

const missing = mediaToolsMissing();
const SECONDS = 240;

const serverEnv = (dataDir: string, databaseUrl: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: dataDir,
  DATABASE_URL: databaseUrl,
  PASSWORD_HASH_LOG2N: '10',
  MIN_FREE_BYTES: '0',
  REGISTRATION_RATE_LIMIT: '0',
  TOKEN_RATE_LIMIT: '0',
  LOG_LEVEL: 'info',
  ...extra,
});

describe('media jobs survive kill -9', { skip: missing }, () => {
  let dir: string;
  let audio: Buffer;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-processing-crash-'));
    // Long enough that processing takes a moment (about 1-3 s), small enough to upload at once.
    const file = path.join(dir, 'long.flac');
    await promisify(execFile)('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=220:sample_rate=44100:duration=${SECONDS}`, '-c:a', 'flac', file]);
    audio = await readFile(file);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of databaseKinds()) {
    test(`on ${kind.name}: a job killed mid-run is done after a restart`, { skip: kind.skip }, async () => {
      const dataDir = await mkdtemp(path.join(dir, `${kind.name}-`));
      const database = await kind.create(dataDir);
      let server = await startServerProcess(serverEnv(dataDir, database.url));
      try {
        assert.match(server.output(), /media processing on/);
        const alice = await newUser(server.base, 'crash_media');
        const created = await request(server.base, 'POST', '/audio_clips', {
          token: alice.token,
          multipart: [
            ['audio_clip[title]', 'long'],
            ['audio_clip[uploaded_data]', audio, 'long.flac'],
          ],
        });
        assert.equal(created.status, 201, created.text);
        const detail = created.json.body.audio_clip.urls.detail;
        for (let seen = ''; seen !== 'processing'; await delay(20)) {
          seen = (await request(server.base, 'GET', detail)).json.body.audio_clip.processing;
          assert.ok(seen === 'queued' || seen === 'processing', `caught ${seen} before the kill`);
        }
        await server.kill9();
        server = await startServerProcess(serverEnv(dataDir, database.url));
        // The lease of the killed run lapses (10 s), then the job runs again from the start: 4 minutes
        // of audio into three encoders, which on a loaded 2-core machine took up to 90 s.
        const clip = await waitProcessed(server.base, detail, undefined, 300_000);
        assert.equal(clip.processing, 'ready', JSON.stringify(clip.processing_error));
        assert.ok(Math.abs(clip.duration - SECONDS) < 0.05, String(clip.duration));
        const mp3 = await fetch(server.base + clip.urls.high_mp3);
        assert.equal(mp3.status, 200);
        assert.ok((await mp3.arrayBuffer()).byteLength > SECONDS * 15_000);
      } finally {
        await server.kill9();
        await database.drop();
      }
    });
  }

  test('without ffmpeg: one log line at start, processing "unavailable", the original still served', async () => {
    const dataDir = await mkdtemp(path.join(dir, 'no-ffmpeg-'));
    const server = await startServerProcess(serverEnv(dataDir, path.join(dataDir, 'db.sqlite'), { FFMPEG_PATH: '/nonexistent/ffmpeg' }));
    try {
      const alice = await newUser(server.base, 'no_ffmpeg');
      const created = await request(server.base, 'POST', '/audio_clips', {
        token: alice.token,
        multipart: [
          ['audio_clip[title]', 'tone'],
          ['audio_clip[uploaded_data]', fixture('tone.wav'), 'tone.wav'],
        ],
      });
      assert.equal(created.status, 201, created.text);
      const clip = created.json.body.audio_clip;
      assert.equal(clip.processing, 'unavailable');
      assert.equal(clip.urls.high_mp3, null);
      assert.equal((await request(server.base, 'GET', clip.urls.audio)).status, 200);
      const redirect = await request(server.base, 'GET', `/audio_clips/${clip.id}.mp3`);
      assert.equal(redirect.status, 404);
      assert.equal(redirect.json.body.error.name, 'not_processed');
      assert.equal(server.output().match(/media processing unavailable/g)?.length, 1, server.output());
    } finally {
      await server.kill9();
    }
  });
});
