/**
 * SPEC 3.4: `content_type` is always a string, sniffed as soon as the file's first bytes are
 * there, and it names a file type as a clip's `audio.content_type` does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { AUDIO_FIXTURES, fixture } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

for (const kind of databaseKinds()) {
  describe(`content_type on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let token: string;
    before(async () => {
      server = await startServer(kind);
      token = (await newUser(server.url, 'ctype')).token;
    });
    after(() => server?.close());

    const contentType = async (id: number) => (await request(server.url, 'GET', `/attachments/${id}`, { token })).json.body.attachment.content_type;

    test('application/octet-stream before any byte; the sniffed type once the head has arrived, long before the end', async () => {
      const wav = fixture('tone.wav');
      const id = await createAttachment(server.url, token, wav.length);
      assert.equal(await contentType(id), 'application/octet-stream');
      // The tail first: no head yet, nothing to sniff.
      assert.equal((await putRaw(server.url, token, id, 2000, wav.subarray(2000))).json.body.attachment.content_type, 'application/octet-stream');
      const afterHead = await putRaw(server.url, token, id, 0, wav.subarray(0, 100));
      assert.equal(afterHead.json.body.attachment.complete, false);
      assert.equal(afterHead.json.body.attachment.content_type, 'audio/wav');
      assert.equal(await contentType(id), 'audio/wav');
      const done = await putRaw(server.url, token, id, 100, wav.subarray(100, 2000));
      assert.equal(done.json.body.attachment.complete, true);
      assert.equal(done.json.body.attachment.content_type, 'audio/wav');
    });

    test('replies to chunks past the head keep the sniffed type', async () => {
      const wav = fixture('tone.wav');
      const id = await createAttachment(server.url, token, wav.length);
      assert.equal((await putRaw(server.url, token, id, 0, wav.subarray(0, 100))).json.body.attachment.content_type, 'audio/wav');
      // Past what sniffing reads: the range is recorded on the row as this process last saw it.
      for (const start of [100, 10_000, 20_000]) {
        const reply = await putRaw(server.url, token, id, start, wav.subarray(start, start + 5_000));
        assert.equal(reply.json.body.attachment.complete, false);
        assert.equal(reply.json.body.attachment.content_type, 'audio/wav', `chunk at ${start}`);
      }
    });

    test("the chunk part's declared type until the head arrives", async () => {
      const mp3 = fixture('tone.mp3');
      const form = new FormData();
      form.append('attachment[size]', String(mp3.length));
      form.append('attachment[chunk_offset]', '2000');
      form.append('attachment[chunk]', new Blob([mp3.subarray(2000)], { type: 'audio/x-declared' }), 'tone.mp3');
      const reply = await fetch(`${server.url}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
      const created = (await reply.json()) as { body: { attachment: { id: number; content_type: string } } };
      assert.equal(reply.status, 201, JSON.stringify(created));
      assert.equal(created.body.attachment.content_type, 'audio/x-declared');
      const id = created.body.attachment.id;
      assert.equal((await putRaw(server.url, token, id, 0, mp3.subarray(0, 2000))).json.body.attachment.content_type, 'audio/mpeg');
    });

    test("every audio format: the attachment's content_type is the clip's audio.content_type (audio/mp4, not audio/x-m4a)", async () => {
      for (const f of AUDIO_FIXTURES) {
        const data = fixture(f.file);
        const id = await createAttachment(server.url, token, data.length, f.file);
        const done = await putRaw(server.url, token, id, 0, data);
        assert.equal(done.json.body.attachment.complete, true, f.file);
        assert.equal(done.json.body.attachment.content_type, f.contentType, f.file);
        const clip = await request(server.url, 'POST', '/audio_clips', { token, json: { audio_clip: { title: f.file, uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(data) } } } });
        assert.equal(clip.status, 201, `${f.file}: ${clip.text}`);
        assert.equal(clip.json.body.audio_clip.audio.content_type, f.contentType, f.file);
        assert.equal((await request(server.url, 'GET', `/attachments/${id}`, { token })).json.body.attachment.content_type, f.contentType, `${f.file} once used`);
      }
    });
  });
}
