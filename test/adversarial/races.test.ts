/**
 * Races that once lost data or answered 500, run in bounded loops on every database
 * (issue 11). Each trial fires the racing requests with a small varying delay between
 * them so that, over the loop, the second lands at every point of the first; the counts
 * of each outcome are reported with t.diagnostic.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const TRIALS = Number(process.env.RACE_TRIALS ?? 30);

/** GETs a file on a connection of its own (no keep-alive: closing the server never waits on it). */
export function download(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function tally(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function summary(counts: Map<string, number>): string {
  return [...counts].map(([key, n]) => `${key}: ${n}`).join(', ');
}

for (const kind of databaseKinds()) {
  describe(`races on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let user: { token: string; id: number };
    const audio = fixture('tone.mp3');

    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 10_000 });
      base = server.url;
      user = await newUser(base, 'racer');
    });
    after(() => server.close());

    async function completeAttachment(data: Buffer): Promise<number> {
      const id = await createAttachment(base, user.token, data.length, 'tone.mp3');
      const reply = await putRaw(base, user.token, id, 0, data);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.body.attachment.state, 'complete');
      return id;
    }

    test('DELETE /attachments/:id racing the clip that uses it: never both, and the clip keeps its bytes', async (t) => {
      const counts = new Map<string, number>();
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const id = await completeAttachment(audio);
        const [clip, removed] = await Promise.all([
          request(base, 'POST', '/audio_clips', { token: user.token, json: { audio_clip: { title: `race ${trial}`, uploaded_data: { chunked_attachment_id: id } } } }),
          delay(trial % 10).then(() => request(base, 'DELETE', `/attachments/${id}`, { token: user.token })),
        ]);
        tally(counts, `clip ${clip.status} / delete ${removed.status}`);
        if (clip.status === 201) {
          assert.equal(removed.status, 409, `trial ${trial}: the clip was made and the DELETE answered ${removed.status}`);
          assert.equal(removed.json.body.error.name, 'attachment_used');
          const file = await download(`${base}/audio_clips/${clip.json.body.audio_clip.id}/audio`);
          assert.equal(file.status, 200, `trial ${trial}: the clip's audio answered ${file.status}`);
          assert.equal(sha1(file.body), sha1(audio));
        } else {
          assert.equal(removed.status, 204, `trial ${trial}: clip ${clip.status} ${clip.text}, delete ${removed.status}`);
          assert.equal(clip.status, 422, clip.text);
          assert.equal(clip.json.body.error.name, 'attachment_not_found');
        }
      }
      t.diagnostic(`${TRIALS} trials on ${kind.name}: ${summary(counts)}`);
    });

    test('reads racing DELETE /audio_clips/:id answer the clip or 404, never 500', async (t) => {
      const counts = new Map<string, number>();
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const made = await request(base, 'POST', '/audio_clips', {
          token: user.token,
          multipart: [['audio_clip[title]', `doomed ${trial}`], ['audio_clip[uploaded_data]', audio, 'tone.mp3']],
        });
        assert.equal(made.status, 201, made.text);
        const id = made.json.body.audio_clip.id;
        const [removed, list, one, file] = await Promise.all([
          delay(trial % 6).then(() => request(base, 'DELETE', `/audio_clips/${id}`, { token: user.token })),
          request(base, 'GET', '/audio_clips?page%5Bitems%5D=5'),
          request(base, 'GET', `/audio_clips/${id}`),
          download(`${base}/audio_clips/${id}/audio`),
        ]);
        tally(counts, `list ${list.status}, clip ${one.status}, audio ${file.status}`);
        assert.equal(removed.status, 204, removed.text);
        assert.equal(list.status, 200, `trial ${trial}: list ${list.text}`);
        assert.ok([200, 404].includes(one.status), `trial ${trial}: clip ${one.status} ${one.text}`);
        assert.ok([200, 404].includes(file.status), `trial ${trial}: audio ${file.status} ${file.body.toString()}`);
        if (file.status === 200) assert.equal(sha1(file.body), sha1(audio));
      }
      t.diagnostic(`${TRIALS} trials on ${kind.name}: ${summary(counts)}`);
    });

    test('PUT /audio_clips/:id racing its DELETE answers the clip or 404, never 500', async (t) => {
      const counts = new Map<string, number>();
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const made = await request(base, 'POST', '/audio_clips', {
          token: user.token,
          multipart: [['audio_clip[title]', `edited ${trial}`], ['audio_clip[uploaded_data]', audio, 'tone.mp3']],
        });
        const id = made.json.body.audio_clip.id;
        const [removed, edited] = await Promise.all([
          delay(trial % 4).then(() => request(base, 'DELETE', `/audio_clips/${id}`, { token: user.token })),
          request(base, 'PUT', `/audio_clips/${id}`, { token: user.token, json: { audio_clip: { title: 'new title' } } }),
        ]);
        tally(counts, `delete ${removed.status}, put ${edited.status}`);
        assert.equal(removed.status, 204, removed.text);
        assert.ok([200, 404].includes(edited.status), `trial ${trial}: put ${edited.status} ${edited.text}`);
      }
      t.diagnostic(`${TRIALS} trials on ${kind.name}: ${summary(counts)}`);
    });

    test('DELETE /attachments/:id during the final hash of an out-of-order upload: the chunk and status reads answer 200 or 404', async (t) => {
      const counts = new Map<string, number>();
      const size = 48 * 1024 * 1024;
      const data = Buffer.alloc(size, 7);
      const trials = Math.max(3, Math.ceil(TRIALS / 10));
      for (let trial = 0; trial < trials; trial += 1) {
        const id = await createAttachment(base, user.token, size);
        // Everything but the first byte first: the last chunk then hashes the whole file.
        assert.equal((await putRaw(base, user.token, id, 1, data.subarray(1))).status, 200);
        const [last, removed, ...statuses] = await Promise.all([
          putRaw(base, user.token, id, 0, data.subarray(0, 1)),
          delay(5 + trial * 5).then(() => request(base, 'DELETE', `/attachments/${id}`, { token: user.token })),
          ...[2, 15, 60].map((ms) => delay(ms).then(() => request(base, 'GET', `/attachments/${id}`, { token: user.token }))),
        ]);
        tally(counts, `chunk ${last.status}, delete ${removed.status}, status ${statuses.map((s) => s.status).join('/')}`);
        assert.ok([200, 404].includes(last.status), `trial ${trial}: chunk ${last.status} ${last.text}`);
        assert.ok([204, 404].includes(removed.status), `trial ${trial}: delete ${removed.status} ${removed.text}`);
        for (const status of statuses) assert.ok([200, 404].includes(status.status), `trial ${trial}: status ${status.status} ${status.text}`);
      }
      t.diagnostic(`${trials} trials on ${kind.name}: ${summary(counts)}`);
    });
  });
}
