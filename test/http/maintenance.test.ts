/** Orphaned blobs are swept; registration and token requests are rate-limited. */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { waitProcessed } from '../helpers/processing.js';
import { startServer, TestClock } from '../helpers/server.js';

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
        assert.equal(await server.app.services.orphans.sweep(), 1);
        const after = await readdir(blobs);
        assert.equal(after.length, before - 1);
        assert.ok(!after.includes(stray));
        // A young orphan is spared: its row may be about to commit.
        clock.current = Date.now();
        await writeFile(path.join(blobs, stray), 'just written');
        assert.equal(await server.app.services.orphans.sweep(), 0);
        assert.equal((await request(server.url, 'GET', `/attachments/${attachment}`, { token })).json.body.attachment.received_bytes, 50);
      } finally {
        await server.close();
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
