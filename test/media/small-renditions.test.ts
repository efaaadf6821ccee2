/**
 * The small renditions for slow networks (SPEC 8, issue 26): speech from espeak-ng, uploaded as a
 * browser records it (WebM/Opus, 48 kHz mono) and as 44.1 kHz stereo Ogg Vorbis, comes out as a
 * mono Ogg Opus of about 24-32 kbit/s and a mono AAC-LC in MP4 of about 48 kbit/s with its index
 * (moov) before the audio (mdat), both as long as the source, made by the same single ffmpeg run
 * as the MP3 (a wrapper counts the runs). They are served byte-exact with ETag, 304 and Range,
 * publicly for clips and only to the sender and recipient for messages; the orphan sweeper's
 * reference check names them, and deleting a clip deletes them. On SQLite, PostgreSQL and S3.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SqlBlobReferences } from '../../src/db/repositories/blob-references.js';
import { storageKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { ffprobe, makeSpeech, measure, mediaToolsMissing, waitProcessed } from '../helpers/processing.js';
import { startServer, type TestServer } from '../helpers/server.js';

const missing = mediaToolsMissing();

const TEXT =
  'Hello, this is a voice message about the weekend. We could meet at the station around ten, then walk along the river to the old market. ' +
  'If it rains, we will take the bus instead. Let me know what you think, and call me back when you can.';

/** The top-level box types of an MP4 file, in order. */
function topLevelBoxes(bytes: Buffer): string[] {
  const types: string[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    let size = bytes.readUInt32BE(at);
    if (size === 1) size = Number(bytes.readBigUInt64BE(at + 8));
    else if (size === 0) size = bytes.length - at;
    types.push(bytes.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  return types;
}

const kbits = (bytes: number, seconds: number) => (bytes * 8) / seconds / 1000;

describe('small renditions', { skip: missing }, () => {
  let dir: string;
  let speech: Record<string, string>;
  let runsLog: string;
  let wrapper: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-small-renditions-'));
    speech = await makeSpeech(dir, TEXT);
    // An ffmpeg that notes every run, so the test can count the passes a clip takes.
    runsLog = path.join(dir, 'runs.log');
    wrapper = path.join(dir, 'ffmpeg');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${runsLog}'\nexec ffmpeg "$@"\n`);
    await chmod(wrapper, 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of storageKinds()) {
    describe(`on ${kind.name}`, { skip: kind.skip }, () => {
      let server: TestServer;
      let alice: { token: string; id: number };
      before(async () => {
        server = await startServer(kind, { ffmpegPath: wrapper });
        alice = await newUser(server.url, 'small');
      });
      after(() => server.close());

      const runs = async () =>
        (await readFile(runsLog, 'utf8').catch(() => ''))
          .split('\n')
          .filter((line) => line !== '' && !line.includes('-version'));

      const encodingOnce = kind.name === 'sqlite' ? undefined : 'the encoding is the same whatever the database or store (checked on sqlite)';
      test('Opus and AAC: codec, mono, bitrate, faststart, length; one ffmpeg run with the MP3', { skip: encodingOnce }, async () => {
        for (const source of ['speech.webm', 'speech.ogg']) {
          const before = (await runs()).length;
          const reference = await measure(speech[source]!);
          const created = await request(server.url, 'POST', '/audio_clips', {
            token: alice.token,
            multipart: [
              ['audio_clip[title]', source],
              ['audio_clip[uploaded_data]', await readFile(speech[source]!), source],
            ],
          });
          assert.equal(created.status, 201, created.text);
          assert.equal(created.json.body.audio_clip.urls.low_opus, null, 'null until processed');
          assert.equal(created.json.body.audio_clip.urls.low_aac, null);
          const clip = await waitProcessed(server.url, created.json.body.audio_clip.urls.detail, undefined);
          assert.equal(clip.processing, 'ready', JSON.stringify(clip.processing_error));
          assert.equal(clip.urls.low_opus, `/audio_clips/${clip.id}/low.opus`);
          assert.equal(clip.urls.low_aac, `/audio_clips/${clip.id}/low.m4a`);

          const made = (await runs()).slice(before);
          assert.equal(made.length, 1, `one ffmpeg run per clip: ${made.join(' | ')}`);
          for (const name of ['high.mp3', 'low.opus', 'low.m4a']) assert.ok(made[0]!.includes(name), `${name} comes from the one run`);

          const opus = Buffer.from(await (await fetch(server.url + clip.urls.low_opus)).arrayBuffer());
          const opusFile = path.join(dir, `${kind.name}-${clip.id}.opus`);
          await writeFile(opusFile, opus);
          const opusInfo = await ffprobe(opusFile);
          assert.equal(opusInfo.format.format_name, 'ogg', source);
          assert.equal(opusInfo.streams.length, 1);
          assert.equal(opusInfo.streams[0]!.codec_name, 'opus', source);
          assert.equal(Number(opusInfo.streams[0]!.channels), 1, source);
          assert.equal(Number(opusInfo.streams[0]!.sample_rate), 48_000, source);
          const opusRate = kbits(opus.length, reference.duration);
          assert.ok(opusRate >= 20 && opusRate <= 34, `${source}: Opus at ${opusRate.toFixed(1)} kbit/s`);

          const aac = Buffer.from(await (await fetch(server.url + clip.urls.low_aac)).arrayBuffer());
          const aacFile = path.join(dir, `${kind.name}-${clip.id}.m4a`);
          await writeFile(aacFile, aac);
          const aacInfo = await ffprobe(aacFile);
          assert.match(aacInfo.format.format_name!, /mp4/, source);
          assert.equal(aacInfo.streams.length, 1);
          assert.equal(aacInfo.streams[0]!.codec_name, 'aac', source);
          assert.equal(aacInfo.streams[0]!.profile, 'LC', source);
          assert.equal(Number(aacInfo.streams[0]!.channels), 1, source);
          const aacRate = kbits(aac.length, reference.duration);
          assert.ok(aacRate >= 38 && aacRate <= 60, `${source}: AAC at ${aacRate.toFixed(1)} kbit/s`);
          const boxes = topLevelBoxes(aac);
          assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `faststart: ${boxes.join(',')}`);

          // As long as the source (encoder delay trimmed), and much smaller than the MP3.
          for (const file of [opusFile, aacFile]) {
            const decoded = await measure(file);
            assert.ok(Math.abs(decoded.duration - reference.duration) <= 0.08, `${path.basename(file)} lasts ${decoded.duration} s, the source ${reference.duration} s`);
          }
          const mp3Size = Number((await fetch(server.url + clip.urls.high_mp3, { method: 'HEAD' })).headers.get('content-length'));
          assert.ok(opus.length * 4 < mp3Size && aac.length * 2 < mp3Size, `Opus ${opus.length}, AAC ${aac.length}, MP3 ${mp3Size} bytes`);
          console.log(`# ${kind.name} ${source} (${reference.duration.toFixed(1)} s): Opus ${opusRate.toFixed(1)} kbit/s, AAC ${aacRate.toFixed(1)} kbit/s, MP3 ${kbits(mp3Size, reference.duration).toFixed(1)} kbit/s`);
        }
      });

      test('served byte-exact: ETag, 304, Range, public for clips; the sweeper and DELETE know them', async () => {
        const created = await request(server.url, 'POST', '/audio_clips', {
          token: alice.token,
          multipart: [
            ['audio_clip[title]', 'served'],
            ['audio_clip[uploaded_data]', await readFile(speech['speech.flac']!), 'speech.flac'],
          ],
        });
        const clip = await waitProcessed(server.url, created.json.body.audio_clip.urls.detail, undefined);
        assert.equal(clip.processing, 'ready');
        for (const [url, type] of [
          [clip.urls.low_opus, 'audio/ogg'],
          [clip.urls.low_aac, 'audio/mp4'],
        ] as const) {
          const first = await fetch(server.url + url);
          assert.equal(first.status, 200);
          assert.equal(first.headers.get('content-type'), type);
          assert.equal(first.headers.get('accept-ranges'), 'bytes');
          assert.match(first.headers.get('cache-control')!, /^public/);
          const bytes = Buffer.from(await first.arrayBuffer());
          assert.equal(Number(first.headers.get('content-length')), bytes.length);
          const etag = `"${createHash('sha1').update(bytes).digest('hex')}"`;
          assert.equal(first.headers.get('etag'), etag);
          const again = Buffer.from(await (await fetch(server.url + url)).arrayBuffer());
          assert.ok(again.equals(bytes), `${url}: the same bytes on every request`);
          const unchanged = await fetch(server.url + url, { headers: { 'if-none-match': etag } });
          assert.equal(unchanged.status, 304);
          await unchanged.arrayBuffer();
          const part = await fetch(server.url + url, { headers: { range: 'bytes=1000-4999' } });
          assert.equal(part.status, 206);
          assert.equal(part.headers.get('content-range'), `bytes 1000-4999/${bytes.length}`);
          assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 5000)));
          const tail = await fetch(server.url + url, { headers: { range: 'bytes=-100' } });
          assert.equal(tail.status, 206);
          assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 100)));
        }

        const { db } = server.app.services.database;
        const row = await db.selectFrom('media_processing').select(['low_opus_key', 'low_aac_key']).where('subject_type', '=', 'audio_clip').where('subject_id', '=', clip.id).executeTakeFirstOrThrow();
        const keys = [row.low_opus_key!, row.low_aac_key!];
        const named = await new SqlBlobReferences(server.app.services.database).referenced([...keys, 'no-such-key']);
        assert.deepEqual([...named].sort(), [...keys].sort(), 'the orphan sweeper leaves the small renditions alone');

        assert.equal((await request(server.url, 'DELETE', `/audio_clips/${clip.id}`, { token: alice.token })).status, 204);
        for (const key of keys) {
          const gone = await (server.app.services.store.openRead(key) as Readable).toArray().then(
            () => false,
            () => true,
          );
          assert.ok(gone, `${key} is deleted with the clip`);
        }
        assert.equal((await fetch(server.url + clip.urls.low_opus)).status, 404);
      });

      test('messages: the small renditions only for the sender and the recipient, private', async () => {
        const bob = await newUser(server.url, 'small_bob');
        const carol = await newUser(server.url, 'small_carol');
        const sent = await request(server.url, 'POST', '/account/outbox', {
          token: alice.token,
          multipart: [
            ['message[recipient_id]', String(bob.id)],
            ['message[uploaded_data]', await readFile(speech['speech.webm']!), 'speech.webm'],
          ],
        });
        assert.equal(sent.status, 201, sent.text);
        const message = await waitProcessed(server.url, sent.json.body.message.urls.detail, bob.token);
        assert.equal(message.processing, 'ready');
        assert.equal(message.urls.low_opus, `/account/messages/${message.id}/low.opus`);
        assert.equal(message.urls.low_aac, `/account/messages/${message.id}/low.m4a`);
        for (const url of [message.urls.low_opus, message.urls.low_aac]) {
          for (const [who, status] of [[alice.token, 200], [bob.token, 200], [carol.token, 404], [undefined, 401]] as const) {
            const reply = await fetch(server.url + url, { headers: { ...(who ? { authorization: `Bearer ${who}` } : {}), range: 'bytes=0-99' } });
            assert.equal(reply.status, status === 200 ? 206 : status, `${url} for ${who ?? 'anonymous'}`);
            if (status === 200) assert.match(reply.headers.get('cache-control')!, /^private/);
            await reply.arrayBuffer();
          }
        }
      });
    });
  }
});
