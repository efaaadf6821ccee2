/**
 * Media processing end to end (SPEC 8), on both databases: speech from espeak-ng in every
 * accepted format is uploaded; the job measures its duration from the decoded audio and its
 * loudness (checked against ffmpeg's own ebur128 run here), makes an MP3 (valid per ffprobe,
 * the source's length) and a waveform (consistent with the duration); images get thumb and
 * full and the sizes asked for with image_size_hint; messages' renditions stay private;
 * hostile files fail cleanly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { fixture, FIXTURES, wavHeader } from '../helpers/media.js';
import { ffprobe, makeSpeech, measure, mediaToolsMissing, pngClaiming, waitProcessed, type Reference } from '../helpers/processing.js';
import { startServer, type TestServer } from '../helpers/server.js';

const missing = mediaToolsMissing();
/* eslint-disable @typescript-eslint/no-explicit-any -- views are checked field by field */

const CONTENT_TYPES: Record<string, string> = { wav: 'audio/wav', flac: 'audio/flac', mp3: 'audio/mpeg', ogg: 'audio/ogg', opus: 'audio/ogg', m4a: 'audio/mp4', webm: 'audio/webm', mp4: 'audio/mp4', aiff: 'audio/aiff' };

describe('media processing', { skip: missing }, () => {
  let dir: string;
  const sources: Array<{ name: string; file: string; reference: Reference }> = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-processing-'));
    const speech = await makeSpeech(dir, 'Trickle keeps every byte of a voice clip, then makes an MP3, measures its loudness, and draws its waveform.');
    const files = { ...speech, 'chromium-recorded.webm': path.join(FIXTURES, 'chromium-recorded.webm'), 'recorded.mp4': path.join(FIXTURES, 'recorded.mp4'), 'tone.aiff': path.join(FIXTURES, 'tone.aiff') };
    for (const file of Object.values(files)) sources.push({ name: path.basename(file), file, reference: await measure(file) });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of databaseKinds()) {
    describe(`on ${kind.name}`, { skip: kind.skip }, () => {
      let server: TestServer;
      let alice: { token: string; id: number };
      before(async () => {
        server = await startServer(kind);
        alice = await newUser(server.url, 'media');
      });
      after(() => server.close());

      const createClip = async (title: string, audio: Buffer, filename: string, image?: [Buffer, string]) => {
        const reply = await request(server.url, 'POST', '/audio_clips', {
          token: alice.token,
          multipart: [
            ['audio_clip[title]', title],
            ['audio_clip[uploaded_data]', audio, filename],
            ...(image ? [['audio_clip[uploaded_image]', image[0], image[1]] as [string, Buffer, string]] : []),
          ],
        });
        assert.equal(reply.status, 201, reply.text);
        return reply.json.body.audio_clip;
      };

      test('every accepted format: duration from the samples, loudness, a valid MP3, a waveform', async () => {
        const created = [];
        for (const source of sources) {
          const clip = await createClip(source.name, await readFile(source.file), source.name);
          // The create answer never waits for processing.
          assert.ok(['queued', 'processing'].includes(clip.processing), `${source.name}: ${clip.processing}`);
          assert.equal(clip.urls.high_mp3, null);
          created.push({ source, clip });
        }
        const errors: Record<string, { duration_ms: number; mp3_duration_ms: number; loudness_lu: number }> = {};
        for (const { source, clip: first } of created) {
          const clip = await waitProcessed(server.url, first.urls.detail, undefined);
          const label = source.name;
          assert.equal(clip.processing, 'ready', `${label}: ${JSON.stringify(clip.processing_error)}`);
          assert.equal(clip.processing_error, null);
          assert.equal(clip.audio.content_type, CONTENT_TYPES[label.split('.').pop()!], label);
          assert.ok(Math.abs(clip.duration - source.reference.duration) <= 0.05, `${label}: duration ${clip.duration} vs ${source.reference.duration}`);
          assert.equal(clip.audio.duration, clip.duration);
          const loudness = clip.audio.loudness;
          assert.ok(Math.abs(loudness.integrated_lufs - source.reference.integratedLufs) <= 0.5, `${label}: ${loudness.integrated_lufs} LUFS vs ${source.reference.integratedLufs}`);
          if (source.reference.truePeakDbtp !== null) assert.ok(Math.abs(loudness.true_peak_dbtp - source.reference.truePeakDbtp) <= 0.5, `${label}: true peak`);

          // The MP3: byte-exact, with ETag and Range, valid per ffprobe, as long as the source.
          const mp3 = await fetch(server.url + clip.urls.high_mp3);
          assert.equal(mp3.status, 200);
          assert.equal(mp3.headers.get('content-type'), 'audio/mpeg');
          const bytes = Buffer.from(await mp3.arrayBuffer());
          assert.equal(mp3.headers.get('etag'), `"${(await import('node:crypto')).createHash('sha1').update(bytes).digest('hex')}"`);
          const part = await fetch(server.url + clip.urls.high_mp3, { headers: { range: 'bytes=100-199' } });
          assert.equal(part.status, 206);
          assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
          const mp3File = path.join(dir, `${kind.name}-${clip.id}.mp3`);
          await writeFile(mp3File, bytes);
          const probed = await ffprobe(mp3File);
          assert.equal(probed.format.format_name, 'mp3', label);
          assert.equal(probed.streams[0]!.codec_name, 'mp3', label);
          assert.equal(Number(probed.streams[0]!.bit_rate), 128_000, label);
          const decoded = await measure(mp3File);
          assert.ok(Math.abs(decoded.duration - source.reference.duration) <= 0.05, `${label}: MP3 lasts ${decoded.duration} s, the source ${source.reference.duration} s`);
          const redirect = await fetch(`${server.url}/audio_clips/${clip.id}.mp3`, { redirect: 'manual' });
          assert.equal(redirect.status, 302);
          assert.equal(redirect.headers.get('location'), clip.urls.high_mp3);

          // The waveform: audiowaveform JSON version 2, as long as the audio.
          const waveform = (await (await fetch(server.url + clip.urls.waveform)).json()) as any;
          assert.equal(waveform.version, 2);
          assert.equal(waveform.channels, 1);
          assert.equal(waveform.bits, 8);
          assert.equal(waveform.length, Math.ceil((clip.duration * waveform.sample_rate) / waveform.samples_per_pixel - 1e-6), label);
          assert.equal(waveform.data.length, 2 * waveform.length);
          for (let i = 0; i < waveform.data.length; i += 2) assert.ok(waveform.data[i] >= -128 && waveform.data[i] <= waveform.data[i + 1] && waveform.data[i + 1] <= 127);
          assert.ok(Math.max(...waveform.data) > 8, `${label}: the waveform is not silence`);
          errors[label] = {
            duration_ms: Math.round(Math.abs(clip.duration - source.reference.duration) * 1e4) / 10,
            mp3_duration_ms: Math.round(Math.abs(decoded.duration - source.reference.duration) * 1e4) / 10,
            loudness_lu: Math.round(Math.abs(loudness.integrated_lufs - source.reference.integratedLufs) * 100) / 100,
          };
        }
        console.log(`# ${kind.name} accuracy: ${JSON.stringify(errors)}`);
      });

      test('images: thumb and full in the background, image_size_hint on demand, once each', async () => {
        const clip = await waitProcessed(server.url, (await createClip('with image', fixture('tone.wav'), 'tone.wav', [fixture('cover.png'), 'cover.png'])).urls.detail, undefined);
        assert.equal(clip.processing, 'ready');
        assert.deepEqual({ ...clip.urls.images.thumb, url: undefined }, { width: 100, height: 100, url: undefined });
        assert.deepEqual({ ...clip.urls.images.full, url: undefined }, { width: 80, height: 60, url: undefined });
        for (const rendition of [clip.urls.images.thumb, clip.urls.images.full]) {
          const image = await fetch(server.url + rendition.url);
          assert.equal(image.status, 200);
          assert.equal(image.headers.get('content-type'), 'image/png');
          const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
          assert.deepEqual([meta.width, meta.height], [rendition.width, rendition.height]);
        }
        const hints = '?image_size_hint[small]=40x40/c&image_size_hint[wide]=200x100%3C&image_size_hint[same]=200x100&image_size_hint[thumb2]=100x100/c';
        const first = (await request(server.url, 'GET', `/audio_clips/${clip.id}${hints}`)).json.body.audio_clip;
        assert.deepEqual(
          Object.fromEntries(Object.entries(first.urls.images).map(([name, image]: [string, any]) => [name, [image.width, image.height]])),
          { thumb: [100, 100], full: [80, 60], small: [40, 40], wide: [133, 100], same: [80, 60], thumb2: [100, 100] },
        );
        assert.equal(first.urls.images.thumb2.url, first.urls.images.thumb.url, 'the same geometry is the same rendition');
        const small = await fetch(server.url + first.urls.images.small.url);
        assert.equal(small.status, 200);
        const smallMeta = await sharp(Buffer.from(await small.arrayBuffer())).metadata();
        assert.deepEqual([smallMeta.width, smallMeta.height], [40, 40]);
        // Asked again (and in a list): the same renditions, nothing made twice.
        const again = (await request(server.url, 'GET', `/audio_clips/${clip.id}${hints}`)).json.body.audio_clip;
        assert.deepEqual(again.urls.images, first.urls.images);
        const listed = (await request(server.url, 'GET', `/account/audio_clips${hints}&page[items]=150`, { token: alice.token })).json.body.audio_clips;
        assert.deepEqual(listed.find((c: any) => c.id === clip.id).urls.images, first.urls.images);
        const rows = await server.app.services.database.db.selectFrom('image_renditions').select(['geometry']).execute();
        assert.equal(rows.length, new Set(rows.map((r) => r.geometry)).size, 'one row per geometry');
        assert.equal(rows.length, 5, JSON.stringify(rows)); // thumb, full, 40x40/c, 200x100<, 200x100

        for (const bad of ['image_size_hint[x]=0x10', 'image_size_hint[x]=3000x10', 'image_size_hint[x]=10x10/z', 'image_size_hint=10x10', 'image_size_hint[a]=1x1&image_size_hint[b]=1x1&image_size_hint[c]=1x1&image_size_hint[d]=1x1&image_size_hint[e]=1x1&image_size_hint[f]=1x1']) {
          const reply = await request(server.url, 'GET', `/audio_clips/${clip.id}?${bad}`);
          assert.equal(reply.status, 400, bad);
          assert.equal(reply.json.body.error.name, 'invalid_parameter', bad);
        }
        assert.equal((await request(server.url, 'GET', `/audio_clips/${clip.id}/images/77x77`)).status, 404);
        // Deleting the clip deletes its renditions' files too.
        const keys = (await server.app.services.database.db.selectFrom('image_renditions').select('storage_key').execute()).map((r) => r.storage_key);
        assert.equal((await request(server.url, 'DELETE', `/audio_clips/${clip.id}`, { token: alice.token })).status, 204);
        assert.equal((await server.app.services.database.db.selectFrom('image_renditions').select('id').execute()).length, 0);
        for (const key of keys) assert.equal(server.app.services.store.localPath(key) && (await readFile(server.app.services.store.localPath(key)!).catch(() => null)), null);
      });

      test('messages: renditions only for the sender and the recipient', async () => {
        const bob = await newUser(server.url, 'media_bob');
        const carol = await newUser(server.url, 'media_carol');
        const sent = await request(server.url, 'POST', '/account/outbox', {
          token: alice.token,
          multipart: [
            ['message[recipient_id]', String(bob.id)],
            ['message[uploaded_data]', fixture('tone.flac'), 'tone.flac'],
            ['message[uploaded_image]', fixture('cover.jpg'), 'cover.jpg'],
          ],
        });
        assert.equal(sent.status, 201, sent.text);
        const message = await waitProcessed(server.url, sent.json.body.message.urls.detail, bob.token);
        assert.equal(message.processing, 'ready');
        assert.match(message.urls.high_mp3, /^\/account\/messages\/\d+\/audio\.mp3$/);
        for (const url of [message.urls.high_mp3, message.urls.waveform, message.urls.images.thumb.url]) {
          for (const [who, status] of [[alice.token, 200], [bob.token, 200], [carol.token, 404], [undefined, 401]] as const) {
            const reply = await fetch(server.url + url, { headers: who ? { authorization: `Bearer ${who}` } : {} });
            assert.equal(reply.status, status, `${url} for ${who ?? 'anonymous'}`);
            if (status === 200) assert.match(reply.headers.get('cache-control')!, /^private/);
            await reply.arrayBuffer();
          }
        }
        const hinted = (await request(server.url, 'GET', `${message.urls.detail}?image_size_hint[tiny]=16x16/c`, { token: bob.token })).json.body.message;
        assert.deepEqual([hinted.urls.images.tiny.width, hinted.urls.images.tiny.height], [16, 16]);
        assert.equal((await request(server.url, 'GET', `${message.urls.detail}?image_size_hint[tiny]=16x16/c`, { token: carol.token })).status, 404);
      });

      test('hostile media: a WAV claiming hours, a truncated MP3, a PNG claiming 100000x100000 pixels', async () => {
        const started = Date.now();
        const samples = Buffer.alloc(16000); // 1 s at 8 kHz, 16-bit mono
        for (let i = 0; i < 8000; i += 1) samples.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 2 * i);
        const claimsHours = Buffer.concat([wavHeader(0x7ffff000), samples]);
        const mp3 = await readFile(sources.find((s) => s.name === 'speech.mp3')!.file);
        const truncated = mp3.subarray(0, Math.floor(mp3.length / 2) + 77);
        const wav = await createClip('claims hours', claimsHours, 'long.wav');
        const cut = await createClip('truncated', truncated, 'cut.mp3');
        const huge = await createClip('huge image', fixture('tone.wav'), 'tone.wav', [pngClaiming(100_000, 100_000), 'huge.png']);

        const wavDone = await waitProcessed(server.url, wav.urls.detail, undefined);
        assert.equal(wavDone.processing, 'ready', JSON.stringify(wavDone.processing_error));
        assert.ok(Math.abs(wavDone.duration - 1) < 0.01, `measured ${wavDone.duration} s, not the header's hours`);
        const cutDone = await waitProcessed(server.url, cut.urls.detail, undefined);
        assert.ok(cutDone.processing === 'ready' || cutDone.processing === 'failed');
        const fullSeconds = sources.find((s) => s.name === 'speech.mp3')!.reference.duration;
        if (cutDone.processing === 'ready') assert.ok(cutDone.duration < fullSeconds * 0.75, `the truncated MP3 measured ${cutDone.duration} s of ${fullSeconds} s`);
        const hugeDone = await waitProcessed(server.url, huge.urls.detail, undefined);
        assert.equal(hugeDone.processing, 'failed');
        assert.equal(hugeDone.processing_error.name, 'image_too_large');
        assert.equal(typeof hugeDone.processing_error.description, 'string');
        assert.equal(hugeDone.urls.high_mp3, null);
        // The original is served in every state; an on-demand size of it is null, not an error.
        assert.equal((await fetch(server.url + hugeDone.urls.audio)).status, 200);
        const hinted = await request(server.url, 'GET', `${huge.urls.detail}?image_size_hint[x]=50x50`);
        assert.equal(hinted.status, 200);
        assert.equal(hinted.json.body.audio_clip.urls.images.x, null);
        assert.equal((await fetch(`${server.url}/audio_clips/${huge.id}.mp3`, { redirect: 'manual' })).status, 404);
        assert.ok(Date.now() - started < 30_000);
        assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
      });
    });
  }
});
