/**
 * Probing untrusted files (issue 11): a crafted MP3 that makes the parser crawl costs a
 * bounded amount of work off the request thread, and once, not on every request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IsolatedProber } from '../../src/media/isolated-prober.js';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { FIXTURES } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** A 10-byte ID3v2 header, then 0xFF bytes: every position looks like the start of an MPEG frame. */
export function craftedMp3(size: number): Buffer {
  return Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]), Buffer.alloc(size - 10, 0xff)]);
}

test('a probe past its deadline is stopped (its worker terminated) and the next probe gets a fresh worker', async () => {
  const hasty = new IsolatedProber(1);
  const patient = new IsolatedProber(10_000);
  try {
    for (let i = 0; i < 3; i += 1) assert.equal(await hasty.probeAudio(`${FIXTURES}/tone.aiff`), null);
    assert.equal(hasty.timeouts, 3);
    const info = await patient.probeAudio(`${FIXTURES}/tone.wav`);
    assert.equal(info?.contentType, 'audio/wav');
    assert.equal(patient.timeouts, 0);
  } finally {
    await hasty.close();
    await patient.close();
  }
});

for (const kind of databaseKinds()) {
  describe(`probing crafted files on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let user: { token: string };

    before(async () => {
      server = await startServer(kind, { probeTimeoutSeconds: 5 });
      user = await newUser(server.url, 'prober');
    });
    after(() => server.close());

    test('a 1 MiB MP3 of 0xFF bytes is refused quickly, the server answers meanwhile, and asking again costs no probe', { timeout: 30_000 }, async (t) => {
      const data = craftedMp3(1024 * 1024);
      const id = await createAttachment(server.url, user.token, data.length, 'crafted.mp3');
      assert.equal((await putRaw(server.url, user.token, id, 0, data)).status, 200);
      const use = () => request(server.url, 'POST', '/audio_clips', { token: user.token, json: { audio_clip: { title: 'crafted', uploaded_data: { chunked_attachment_id: id } } } });

      let started = performance.now();
      const [first, health] = await Promise.all([use(), request(server.url, 'GET', '/healthz').then((reply) => ({ reply, ms: performance.now() - started }))]);
      const firstMs = performance.now() - started;
      assert.equal(first.status, 422, first.text);
      assert.equal(first.json.body.error.name, 'unsupported_audio');
      assert.equal(health.reply.status, 200);
      assert.ok(health.ms < 1000, `the server took ${health.ms} ms to answer /healthz while probing`);
      assert.ok(firstMs < 6000, `the first refusal took ${firstMs} ms`);

      const row = await server.app.services.database.db.selectFrom('attachments').select('audio_rejected_sha1').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(row.audio_rejected_sha1, sha1(data), 'the verdict is kept with the attachment');
      started = performance.now();
      for (let i = 0; i < 10; i += 1) {
        const again = await use();
        assert.equal(again.status, 422);
        assert.equal(again.json.body.error.name, 'unsupported_audio');
      }
      const againMs = (performance.now() - started) / 10;
      t.diagnostic(`crafted 1 MiB MP3 on ${kind.name}: first refusal ${firstMs.toFixed(0)} ms (/healthz meanwhile ${health.ms.toFixed(0)} ms), each repeat ${againMs.toFixed(1)} ms`);
    });
  });
}
