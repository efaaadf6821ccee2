/**
 * Probing untrusted files (issue 11): a crafted MP3 that makes the parser crawl costs a
 * bounded amount of work off the request thread, and once, not on every request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IsolatedProber } from '../../src/media/isolated-prober.js';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { FIXTURES, fixture, wavHeader } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** A 10-byte ID3v2 header, then 0xFF bytes: every position looks like the start of an MPEG frame. */
export function craftedMp3(size: number): Buffer {
  return Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 0]), Buffer.alloc(size - 10, 0xff)]);
}

/**
 * tone.flac's STREAMINFO claiming `seconds` of 44.1 kHz audio, marked as the last metadata
 * block, followed by `audio` (zeros unless given), `size` bytes in all.
 */
export function fakeFlac(seconds: number, size: number, audio: Buffer = Buffer.alloc(0)): Buffer {
  const streamInfo = Buffer.from(fixture('tone.flac').subarray(4, 42));
  streamInfo[0] = 0x80; // last metadata block, type 0
  const total = seconds * 44_100;
  streamInfo[4 + 13] = (streamInfo[4 + 13]! & 0xf0) | Math.floor(total / 2 ** 32);
  streamInfo.writeUInt32BE(total >>> 0, 4 + 14);
  const head = Buffer.concat([Buffer.from('fLaC'), streamInfo, audio]);
  return Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length))]);
}

/** Where tone.flac's first frame starts (after its STREAMINFO, VORBIS_COMMENT and PADDING blocks). */
const TONE_FLAC_AUDIO = 8288;

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
      // Blocked by the probe it would take the probe's seconds; a busy 2-core machine alone can add one.
      assert.ok(health.ms < 2500, `the server took ${health.ms} ms to answer /healthz while probing`);
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

    test('audio whose frames are not there is refused: forged FLAC and WAV headers claiming hours', async (t) => {
      const tone = fixture('tone.flac');
      const forged: Array<[string, Buffer]> = [
        ['1,042-byte FLAC claiming 36,000 s', fakeFlac(36_000, 1042)],
        ['FLAC claiming 36,000 s with one real frame, then zeros', fakeFlac(36_000, 600_000, tone.subarray(TONE_FLAC_AUDIO, TONE_FLAC_AUDIO + 4000))],
        ['FLAC claiming 60 s holding 1 s of frames', fakeFlac(60, 0, tone.subarray(TONE_FLAC_AUDIO))],
      ];
      for (const [what, data] of forged) {
        const part = await request(server.url, 'POST', '/audio_clips', {
          token: user.token,
          multipart: [['audio_clip[title]', what], ['audio_clip[uploaded_data]', data, 'forged.flac']],
        });
        assert.equal(part.status, 422, `${what}: ${part.text}`);
        assert.equal(part.json.body.error.name, 'unsupported_audio', what);
        const id = await createAttachment(server.url, user.token, data.length, 'forged.flac');
        assert.equal((await putRaw(server.url, user.token, id, 0, data)).status, 200);
        const used = await request(server.url, 'POST', '/audio_clips', { token: user.token, json: { audio_clip: { title: what, uploaded_data: { chunked_attachment_id: id } } } });
        assert.equal(used.status, 422, `${what}: ${used.text}`);
      }
      // A WAV header claiming 10 h over 1 s of samples is measured by its samples.
      const wav = await request(server.url, 'POST', '/audio_clips', {
        token: user.token,
        multipart: [['audio_clip[title]', 'long wav'], ['audio_clip[uploaded_data]', Buffer.concat([wavHeader(8000 * 2 * 36_000), Buffer.alloc(16_000)]), 'long.wav']],
      });
      assert.equal(wav.status, 201, wav.text);
      assert.equal(wav.json.body.audio_clip.duration, 1);
      // The real file, and its frames under a STREAMINFO that tells the truth, are accepted.
      const honest = await request(server.url, 'POST', '/audio_clips', {
        token: user.token,
        multipart: [['audio_clip[title]', 'honest'], ['audio_clip[uploaded_data]', fakeFlac(1, 0, tone.subarray(TONE_FLAC_AUDIO)), 'honest.flac']],
      });
      assert.equal(honest.status, 201, honest.text);
      assert.ok(Math.abs(honest.json.body.audio_clip.duration - 1) < 0.01);
      t.diagnostic(`${forged.length} forged FLAC files refused as a file part and as an attachment on ${kind.name}`);
    });
  });
}
