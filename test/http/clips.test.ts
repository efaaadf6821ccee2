/** SPEC 3.7 and 4 over real HTTP, with real audio files, on every database kind. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1, type MultipartEntry } from '../helpers/client.js';
import { AUDIO_FIXTURES, fixture } from '../helpers/media.js';
import { blobKeys, startServer, type TestServer } from '../helpers/server.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function assertError(reply: { status: number; json: Json }, status: number, name: string): void {
  assert.equal(reply.status, status, `expected ${status} ${name}, got ${reply.status} ${JSON.stringify(reply.json)}`);
  assert.equal(reply.json.body.error.name, name);
}

for (const kind of storageKinds()) {
  describe(`audio clips on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let base: string;
    let alice: { token: string; id: number; username: string };
    let bob: { token: string; id: number; username: string };

    before(async () => {
      // Media processing off: these tests count stored files, which its renditions would add in
      // the background (test/media/processing.test.ts covers processing and its files).
      server = await startServer(kind, { maxOpenAttachments: 1000, ffmpegPath: '/nonexistent/ffmpeg' });
      base = server.url;
      alice = await newUser(base, 'alice');
      bob = await newUser(base, 'bob');
    });
    after(() => server.close());

    /** Uploads a file as a chunked attachment in three out-of-order chunks. */
    async function attachment(token: string, data: Buffer, filename = 'upload.bin'): Promise<number> {
      const id = await createAttachment(base, token, data.length, filename);
      const third = Math.ceil(data.length / 3);
      for (const start of [2 * third, 0, third]) {
        if (start >= data.length) continue;
        const reply = await putRaw(base, token, id, start, data.subarray(start, Math.min(data.length, start + third)));
        assert.equal(reply.status, 200, reply.text);
      }
      return id;
    }

    function createClip(token: string, fields: Json, files: MultipartEntry[] = []) {
      if (files.length === 0) return request(base, 'POST', '/audio_clips', { token, json: { audio_clip: fields } });
      const entries: MultipartEntry[] = Object.entries(fields).map(([k, v]) => [`audio_clip[${k}]`, String(v)]);
      return request(base, 'POST', '/audio_clips', { token, multipart: [...entries, ...files] });
    }

    async function blobCount(): Promise<number> {
      return (await blobKeys(server)).length;
    }

    test('every supported format, as a file part and as an attachment, is probed from its bytes', async () => {
      for (const f of AUDIO_FIXTURES) {
        const data = fixture(f.file);
        // A misleading name and type must not matter.
        const reply = await createClip(alice.token, { title: `part ${f.file}` }, [['audio_clip[uploaded_data]', data, 'song.txt']]);
        assert.equal(reply.status, 201, `${f.file}: ${reply.text}`);
        const clip = reply.json.body.audio_clip;
        assert.equal(clip.audio.content_type, f.contentType, f.file);
        assert.equal(clip.audio.sample_rate, f.sampleRate, f.file);
        assert.equal(clip.audio.channels, f.channels, f.file);
        assert.ok(typeof clip.audio.codec === 'string' && clip.audio.codec.length > 0, f.file);
        assert.ok(Math.abs(clip.duration - 1) < 0.1, `${f.file} duration ${clip.duration}`);
        assert.equal(clip.audio.size, data.length);
        assert.equal(clip.audio.sha1, sha1(data));
        assert.equal(reply.headers.get('location'), `/audio_clips/${clip.id}`);

        const id = await attachment(alice.token, data, f.file);
        const fromAttachment = await createClip(alice.token, { title: `chunked ${f.file}`, uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(data) } });
        assert.equal(fromAttachment.status, 201, `${f.file}: ${fromAttachment.text}`);
        assert.equal(fromAttachment.json.body.audio_clip.audio.content_type, f.contentType);
        const download = await fetch(`${base}/audio_clips/${fromAttachment.json.body.audio_clip.id}/audio`);
        assert.ok(Buffer.from(await download.arrayBuffer()).equals(data), `${f.file} bytes differ`);
      }
    });

    test('using an attachment: it becomes used in place, without a copy', async () => {
      const data = fixture('tone.flac');
      const id = await attachment(alice.token, data, 'voice.flac');
      const blobsBefore = await blobCount();
      const reply = await createClip(alice.token, { title: 'in place', description: 'd', uploaded_data: { chunked_attachment_id: String(id) } });
      assert.equal(reply.status, 201, reply.text);
      const clip = reply.json.body.audio_clip;
      assert.equal(clip.audio.filename, 'voice.flac');
      assert.equal(await blobCount(), blobsBefore);
      const status = (await request(base, 'GET', `/attachments/${id}`, { token: alice.token })).json.body.attachment;
      assert.equal(status.state, 'used');
      assert.deepEqual(status.used_by, { type: 'audio_clip', id: clip.id });
      assert.equal(status.expires_at, null);
      assertError(await request(base, 'DELETE', `/attachments/${id}`, { token: alice.token }), 409, 'attachment_used');
      assertError(await putRaw(base, alice.token, id, 0, data.subarray(0, 10)), 409, 'attachment_used');
    });

    test('SPEC 3.7 errors leave the attachment as it was', async () => {
      const data = fixture('tone.ogg');
      const id = await attachment(alice.token, data);
      assertError(await createClip(alice.token, { title: 't', uploaded_data: { chunked_attachment_id: 99999999 } }), 422, 'attachment_not_found');
      assertError(await createClip(bob.token, { title: 't', uploaded_data: { chunked_attachment_id: id } }), 422, 'attachment_not_found');
      const wrong = await createClip(alice.token, { title: 't', uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(Buffer.from('x')) } });
      assertError(wrong, 422, 'fingerprint_mismatch');
      assert.equal(wrong.json.body.error.details.sha1, sha1(data));
      assert.equal((await request(base, 'GET', `/attachments/${id}`, { token: alice.token })).json.body.attachment.state, 'complete');

      const partial = await createAttachment(base, alice.token, 1000);
      await putRaw(base, alice.token, partial, 100, Buffer.alloc(200, 1));
      const incomplete = await createClip(alice.token, { title: 't', uploaded_data: { chunked_attachment_id: partial } });
      assertError(incomplete, 422, 'attachment_incomplete');
      assert.deepEqual(incomplete.json.body.error.details.missing, [[0, 100], [300, 1000]]);

      const ok = await createClip(alice.token, { title: 't', uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(data).toUpperCase() } });
      assert.equal(ok.status, 201, ok.text);
      const used = await createClip(alice.token, { title: 't', uploaded_data: { chunked_attachment_id: id } });
      assertError(used, 409, 'attachment_used');
      assert.deepEqual(used.json.body.error.details.used_by, { type: 'audio_clip', id: ok.json.body.audio_clip.id });
    });

    test('what is not audio or not JPEG/PNG is refused, whatever its name; the attachment stays usable', async () => {
      for (const name of ['not-audio.bin', 'not-audio.txt', 'cover.jpg', 'truncated.flac']) {
        const reply = await createClip(alice.token, { title: 'x' }, [['audio_clip[uploaded_data]', fixture(name), 'audio.mp3']]);
        assertError(reply, 422, 'unsupported_audio');
      }
      const text = await attachment(alice.token, fixture('not-audio.txt'), 'fake.mp3');
      assertError(await createClip(alice.token, { title: 'x', uploaded_data: { chunked_attachment_id: text } }), 422, 'unsupported_audio');
      assert.equal((await request(base, 'GET', `/attachments/${text}`, { token: alice.token })).json.body.attachment.state, 'complete');

      const audio = fixture('tone.wav');
      for (const name of ['cover.gif', 'not-audio.txt', 'tone.wav']) {
        const reply = await createClip(alice.token, { title: 'x' }, [['audio_clip[uploaded_data]', audio, 'a.wav'], ['audio_clip[uploaded_image]', fixture(name), 'cover.png']]);
        assertError(reply, 422, 'unsupported_image');
      }
      const blobsBefore = await blobCount();
      assertError(await createClip(alice.token, { title: 'x' }, [['audio_clip[uploaded_data]', fixture('not-audio.bin'), 'a.wav']]), 422, 'unsupported_audio');
      assert.equal(await blobCount(), blobsBefore, 'a refused file part left a blob behind');
    });

    test('images: JPEG and PNG with their dimensions, as parts or attachments, served with ranges', async () => {
      const png = await attachment(alice.token, fixture('cover.png'));
      const reply = await createClip(alice.token, { title: 'with image', uploaded_data: { chunked_attachment_id: await attachment(alice.token, fixture('tone.mp3')) }, uploaded_image: { chunked_attachment_id: png } });
      assert.equal(reply.status, 201, reply.text);
      assert.deepEqual(
        { ...reply.json.body.audio_clip.image, sha1: undefined, size: undefined },
        { content_type: 'image/png', width: 80, height: 60, sha1: undefined, size: undefined },
      );
      const jpeg = await createClip(alice.token, { title: 'jpeg' }, [['audio_clip[uploaded_image]', fixture('cover.jpg'), 'c.jpg'], ['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(jpeg.status, 201, jpeg.text);
      const clip = jpeg.json.body.audio_clip;
      assert.equal(clip.image.content_type, 'image/jpeg');
      assert.equal(clip.image.width, 64);
      assert.equal(clip.image.height, 48);
      assert.equal(clip.urls.image, `/audio_clips/${clip.id}/image`);
      const image = await fetch(base + clip.urls.image);
      assert.equal(image.headers.get('content-type'), 'image/jpeg');
      assert.ok(Buffer.from(await image.arrayBuffer()).equals(fixture('cover.jpg')));
      const noImage = await createClip(alice.token, { title: 'none' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(noImage.json.body.audio_clip.image, null);
      assert.equal(noImage.json.body.audio_clip.urls.image, null);
      assertError(await request(base, 'GET', `/audio_clips/${noImage.json.body.audio_clip.id}/image`), 404, 'not_found');
    });

    test('audio downloads: Content-Length, ETag, 304, ranges, 416, nosniff', async () => {
      const data = fixture('tone.flac');
      const clip = (await createClip(alice.token, { title: 'ranges' }, [['audio_clip[uploaded_data]', data, 'x.flac']])).json.body.audio_clip;
      const url = `${base}/audio_clips/${clip.id}/audio`;
      const full = await fetch(url);
      assert.equal(full.status, 200);
      assert.equal(full.headers.get('content-length'), String(data.length));
      assert.equal(full.headers.get('content-type'), 'audio/flac');
      assert.equal(full.headers.get('etag'), `"${sha1(data)}"`);
      assert.equal(full.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(full.headers.get('accept-ranges'), 'bytes');
      assert.match(full.headers.get('content-disposition') ?? '', /^inline; filename="x.flac"/);
      await full.arrayBuffer();
      const part = await fetch(url, { headers: { range: 'bytes=10-109' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 10-109/${data.length}`);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(10, 110)));
      const suffix = await fetch(url, { headers: { range: 'bytes=-50' } });
      assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.length - 50)));
      const open = await fetch(url, { headers: { range: `bytes=${data.length - 5}-` } });
      assert.equal((await open.arrayBuffer()).byteLength, 5);
      const outside = await fetch(url, { headers: { range: `bytes=${data.length}-` } });
      assert.equal(outside.status, 416);
      assert.equal(outside.headers.get('content-range'), `bytes */${data.length}`);
      assert.equal(((await outside.json()) as Json).body.error.name, 'range_not_satisfiable');
      const cached = await fetch(url, { headers: { 'if-none-match': `"${sha1(data)}"` } });
      assert.equal(cached.status, 304);
      const staleRange = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
      assert.equal(staleRange.status, 200);
      await staleRange.arrayBuffer();
    });

    test('uuid makes creates safe to retry, also when the retries race', async () => {
      const first = await createClip(alice.token, { title: 'once', uuid: 'u-1' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(first.status, 201);
      const again = await createClip(alice.token, { title: 'twice', uuid: 'u-1' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(again.status, 200);
      assert.equal(again.json.body.audio_clip.id, first.json.body.audio_clip.id);
      assert.equal(again.json.body.audio_clip.title, 'once');
      // Another user's uuid is theirs alone.
      assert.equal((await createClip(bob.token, { title: 'bob', uuid: 'u-1' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']])).status, 201);

      const attachments = await Promise.all(Array.from({ length: 6 }, () => attachment(alice.token, fixture('tone.mp3'))));
      const replies = await Promise.all(attachments.map((id) => createClip(alice.token, { title: 'race', uuid: 'u-race', uploaded_data: { chunked_attachment_id: id } })));
      const ids = new Set(replies.map((r) => r.json.body.audio_clip?.id));
      assert.equal(ids.size, 1, JSON.stringify(replies.map((r) => r.text)));
      assert.equal(replies.filter((r) => r.status === 201).length, 1);
      assert.equal(replies.filter((r) => r.status === 200).length, 5);
      // Only the winner's attachment was used; the others are still complete and usable.
      const states = await Promise.all(attachments.map(async (id) => (await request(base, 'GET', `/attachments/${id}`, { token: alice.token })).json.body.attachment.state));
      assert.equal(states.filter((s) => s === 'used').length, 1);
      assert.equal(states.filter((s) => s === 'complete').length, 5);
    });

    test('lists: newest first, search, pagination, max_time, per user', async () => {
      const carol = await newUser(base, 'carol');
      const made: number[] = [];
      for (const title of ['Morning birds', 'Evening rain', 'Rain on 50% of the roof', 'Night']) {
        const reply = await createClip(carol.token, { title, description: title === 'Night' ? 'owls and RAIN' : '' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
        made.push(reply.json.body.audio_clip.id);
      }
      const mine = (await request(base, 'GET', '/account/audio_clips', { token: carol.token })).json.body.audio_clips;
      assert.deepEqual(mine.map((c: Json) => c.id), [...made].reverse());
      const theirs = (await request(base, 'GET', `/users/${carol.id}/audio_clips?page%5Bitems%5D=2&page%5Bnumber%5D=2`)).json.body.audio_clips;
      assert.deepEqual(theirs.map((c: Json) => c.id), [made[1], made[0]]);
      const rain = (await request(base, 'GET', '/audio_clips?find%5Bquery%5D=rain&page%5Bitems%5D=150')).json.body.audio_clips.filter((c: Json) => c.user.id === carol.id);
      assert.deepEqual(rain.map((c: Json) => c.title).sort(), ['Evening rain', 'Night', 'Rain on 50% of the roof']);
      const percent = (await request(base, 'GET', '/audio_clips?find%5Bquery%5D=50%25')).json.body.audio_clips;
      assert.deepEqual(percent.map((c: Json) => c.title), ['Rain on 50% of the roof']);
      const all = (await request(base, 'GET', '/audio_clips?page%5Bitems%5D=150')).json.body.audio_clips;
      const times = all.map((c: Json) => Date.parse(c.uploaded_at));
      assert.deepEqual(times, [...times].sort((a: number, b: number) => b - a));
      const past = (await request(base, 'GET', '/audio_clips?max_time=1000000')).json.body.audio_clips;
      assert.deepEqual(past, []);
      assertError(await request(base, 'GET', '/audio_clips?page%5Bitems%5D=151'), 400, 'invalid_parameter');
      assertError(await request(base, 'GET', '/audio_clips?page%5Bnumber%5D=0'), 400, 'invalid_parameter');
      assertError(await request(base, 'GET', '/users/99999999/audio_clips'), 404, 'not_found');
      assertError(await request(base, 'GET', '/account/audio_clips'), 401, 'authentication_required');
    });

    test('update and delete: owner only; deleting removes the file', async () => {
      const clip = (await createClip(alice.token, { title: 'mine', tag_list: 'a' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']])).json.body.audio_clip;
      assertError(await request(base, 'PUT', `/audio_clips/${clip.id}`, { token: bob.token, json: { audio_clip: { title: 'stolen' } } }), 403, 'forbidden');
      assertError(await request(base, 'PUT', `/audio_clips/${clip.id}`, { json: { audio_clip: { title: 'anon' } } }), 401, 'authentication_required');
      const updated = await request(base, 'PUT', `/audio_clips/${clip.id}`, {
        token: alice.token,
        form: { 'audio_clip[title]': 'renamed', 'audio_clip[tag_list]': 'x, y ,x,,z', 'audio_clip[recorded_at]': '2026-01-02 03:04:05 +0100' },
      });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.json.body.audio_clip.title, 'renamed');
      assert.deepEqual(updated.json.body.audio_clip.tags, ['x', 'y', 'z']);
      assert.equal(updated.json.body.audio_clip.recorded_at, '2026-01-02T02:04:05.000Z');
      assert.equal(updated.json.body.audio_clip.description, '');
      assertError(await request(base, 'DELETE', `/audio_clips/${clip.id}`, { token: bob.token }), 403, 'forbidden');
      assertError(await request(base, 'DELETE', `/audio_clips/${clip.id}`), 401, 'authentication_required');
      const blobsBefore = await blobCount();
      assert.equal((await request(base, 'DELETE', `/audio_clips/${clip.id}`, { token: alice.token })).status, 204);
      assert.equal(await blobCount(), blobsBefore - 1);
      assertError(await request(base, 'GET', `/audio_clips/${clip.id}`), 404, 'not_found');
      assertError(await request(base, 'GET', `/audio_clips/${clip.id}/audio`), 404, 'not_found');
    });

    test('parameters of old mobile clients; missing and malformed ones', async () => {
      const legacy = await createClip(alice.token, {
        title: 'legacy',
        location_latitude: '52.52',
        location_longitude: '13.405',
        location_accuracy: '15',
        local_recorded_at: 'not a date',
        author_locale: 'de_DE',
        some_unknown_field: 'x',
      }, [['audio_clip[tag_list][]', 'one'], ['audio_clip[tag_list][]', 'two'], ['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(legacy.status, 201, legacy.text);
      const clip = legacy.json.body.audio_clip;
      assert.deepEqual(clip.tags, ['one', 'two']);
      assert.deepEqual(clip.location, { latitude: 52.52, longitude: 13.405, accuracy: 15 });
      assert.equal(clip.recorded_at, null);
      assert.deepEqual(clip.user, { id: alice.id, username: alice.username });
      const local = await createClip(alice.token, { title: 'local', local_recorded_at: '2025-06-01T12:00:00Z' }, [['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav']]);
      assert.equal(local.json.body.audio_clip.recorded_at, '2025-06-01T12:00:00.000Z');

      const wav: MultipartEntry = ['audio_clip[uploaded_data]', fixture('tone.wav'), 'a.wav'];
      assertError(await createClip(alice.token, { description: 'no title' }, [wav]), 400, 'missing_parameter');
      assertError(await createClip(alice.token, { title: '' }, [wav]), 400, 'invalid_parameter');
      assertError(await createClip(alice.token, { title: 'no audio' }), 400, 'missing_parameter');
      assertError(await createClip(alice.token, { title: 'bad date', recorded_at: '2026-02-30' }, [wav]), 400, 'invalid_parameter');
      assertError(await createClip(alice.token, { title: 'bad lat', location_latitude: '91' }, [wav]), 400, 'invalid_parameter');
      assertError(await createClip(alice.token, { title: 'bad ref', uploaded_data: { chunked_attachment_id: '1e3' } }), 400, 'invalid_parameter');
      assertError(await createClip(alice.token, { title: 'bad fp', uploaded_data: { chunked_attachment_id: 1, fingerprint: 'zz' } }), 400, 'invalid_parameter');
      assertError(await createClip(alice.token, { title: 'text part', uploaded_data: 'hello' }), 400, 'invalid_parameter');
      assertError(await request(base, 'POST', '/audio_clips', { json: { audio_clip: { title: 'anon' } } }), 401, 'authentication_required');
      // The /account alias creates the same way.
      const alias = await request(base, 'POST', '/account/audio_clips', { token: alice.token, multipart: [['audio_clip[title]', 'alias'], wav] });
      assert.equal(alias.status, 201, alias.text);
    });
  });
}
