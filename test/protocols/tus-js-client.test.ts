/**
 * The real tus-js-client (Node) against Trickle's /files/: tus 1.0 (resume after abort,
 * parallelUploads with concatenation, uploadLengthDeferred from a stream) and the IETF
 * draft as the client speaks it (ietf-draft-03 → interop 5, ietf-draft-05 → interop 6); a
 * recording streamed with uploadLengthDeferred, also over the link emulator through an outage.
 * Every finished upload is checked as an attachment: same id, same bytes, same SHA1.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as tus from 'tus-js-client';
import { databaseKinds } from '../helpers/databases.js';
import { LinkEmulator } from '../helpers/link-emulator.js';
import { newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** tus-js-client 4 speaks the IETF draft at run time; its type declarations do not list the option yet. */
type UploadOptions = ConstructorParameters<typeof tus.Upload>[1] & { protocol?: 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05' };
type FileSource = Awaited<ReturnType<NonNullable<UploadOptions['fileReader']>['openFile']>>;

function idOf(url: string | null): number {
  const match = /\/files\/(\d+)$/.exec(url ?? '');
  assert.ok(match, `upload URL ${url}`);
  return Number(match[1]);
}

/** Runs an upload to its end; resolves its URL. */
function upload(file: Buffer | Readable, options: UploadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const task = new tus.Upload(file, {
      retryDelays: [0, 100, 300],
      ...options,
      onError: reject,
      onSuccess: () => resolve(task.url!),
    });
    task.start();
  });
}

/**
 * A tus-js-client source for a recording in progress: bytes become available piece by piece
 * over time, and the recording ends only after its last bytes were handed out, so the client's
 * last request is an empty one that says the length (tus) or completes the upload (IETF).
 */
class Recording {
  readonly size = null;
  emptySlices = 0;
  private readonly started = Date.now();
  private readonly bytes: Buffer;
  private readonly pieceSize: number;
  private readonly pieceEveryMs: number;

  constructor(bytes: Buffer, pieceSize: number, pieceEveryMs: number) {
    this.bytes = bytes;
    this.pieceSize = pieceSize;
    this.pieceEveryMs = pieceEveryMs;
  }

  async slice(start: number, end: number): Promise<{ value: Buffer & { size: number }; done: boolean }> {
    const stop = Math.min(end, this.bytes.length);
    // The end is learnt only when asked for more after the last byte.
    if (start >= this.bytes.length) {
      this.emptySlices += 1;
      return { value: Object.assign(Buffer.alloc(0), { size: 0 }), done: true };
    }
    while (Math.floor((Date.now() - this.started) / this.pieceEveryMs) * this.pieceSize < stop) await new Promise((resolve) => setTimeout(resolve, 5));
    const value = this.bytes.subarray(start, stop);
    return { value: Object.assign(value, { size: value.length }), done: false };
  }

  close(): void {}
}

for (const kind of databaseKinds()) {
  describe(`tus-js-client on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let alice: { token: string; id: number };
    let endpoint: string;

    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: 64 * 1024 * 1024 });
      alice = await newUser(server.url, 'alice');
      endpoint = `${server.url}/files/`;
    });
    after(() => server.close());

    async function assertAttachment(id: number, file: Buffer, filename?: string) {
      const reply = await request(server.url, 'GET', `/attachments/${id}`, { token: alice.token });
      assert.equal(reply.status, 200, reply.text);
      const a = reply.json.body.attachment;
      assert.equal(a.state, 'complete');
      assert.equal(a.size, file.length);
      assert.equal(a.sha1, sha1(file));
      if (filename) assert.equal(a.filename, filename);
      return a;
    }

    test('tus 1.0: chunked upload with metadata; the upload is the attachment', async () => {
      const file = randomFile(300_000);
      const url = await upload(file, {
        endpoint,
        chunkSize: 64 * 1024,
        headers: { Authorization: `Bearer ${alice.token}` },
        metadata: { filename: 'voice.wav', filetype: 'audio/wav' },
      });
      await assertAttachment(idOf(url), file, 'voice.wav');
    });

    test('tus 1.0: resume after abort continues from the offset the server acknowledged', async () => {
      const file = randomFile(2 * 1024 * 1024);
      const headers = { Authorization: `Bearer ${alice.token}` };
      let sentBeforeAbort = 0;
      const first = new tus.Upload(file, { endpoint, chunkSize: 256 * 1024, headers, metadata: { filename: 'a.bin' } });
      await new Promise<void>((resolve, reject) => {
        first.options.onError = reject;
        first.options.onChunkComplete = (_chunk, accepted) => {
          sentBeforeAbort = accepted;
          if (accepted >= 512 * 1024) void first.abort().then(resolve);
        };
        first.start();
      });
      assert.ok(first.url);
      const id = idOf(first.url);
      const status = (await request(server.url, 'GET', `/attachments/${id}`, { token: alice.token })).json.body.attachment;
      assert.equal(status.received, sentBeforeAbort);
      assert.ok(status.received < file.length);
      // A new Upload object resumes the same URL; it starts at the server's offset.
      let firstChunkAt = -1;
      const url = await upload(file, {
        endpoint,
        uploadUrl: first.url,
        chunkSize: 256 * 1024,
        headers,
        onProgress: (sent) => {
          if (firstChunkAt < 0) firstChunkAt = sent;
        },
      });
      assert.equal(url, first.url);
      assert.ok(firstChunkAt >= sentBeforeAbort, `resumed at ${firstChunkAt}, acknowledged ${sentBeforeAbort}`);
      await assertAttachment(id, file);
    });

    test('tus 1.0: parallelUploads sends partial uploads concatenated into a final one', async () => {
      const file = randomFile(1024 * 1024 + 17);
      const url = await upload(file, {
        endpoint,
        parallelUploads: 4,
        headers: { Authorization: `Bearer ${alice.token}` },
        metadata: { filename: 'parallel.bin' },
      });
      await assertAttachment(idOf(url), file, 'parallel.bin');
    });

    test('tus 1.0: uploadLengthDeferred from a stream fixes the length at the end', async () => {
      const file = randomFile(700_000);
      const stream = Readable.from((function* () {
        for (let offset = 0; offset < file.length; offset += 50_000) yield file.subarray(offset, offset + 50_000);
      })());
      const url = await upload(stream, {
        endpoint,
        uploadLengthDeferred: true,
        chunkSize: 128 * 1024,
        headers: { Authorization: `Bearer ${alice.token}` },
        metadata: { filename: 'live.webm' },
      });
      await assertAttachment(idOf(url), file, 'live.webm');
    });

    for (const protocol of ['tus-v1', 'ietf-draft-05'] as const) {
      test(`${protocol}: uploadLengthDeferred from a recording that ends after its last chunk was sent (an empty chunked request ends it)`, async () => {
        const chunkSize = 64 * 1024;
        const file = randomFile(3 * chunkSize);
        const recording = new Recording(file, chunkSize / 2, 20);
        const sent: Array<{ method: string; length: string | undefined; complete: string | undefined }> = [];
        const url = await upload(Buffer.alloc(0), {
          endpoint,
          protocol,
          uploadLengthDeferred: true,
          chunkSize,
          headers: { Authorization: `Bearer ${alice.token}` },
          metadata: { filename: 'ended-late.webm' },
          // The declarations say a source's size is a number; tus-js-client's own stream source uses null (unknown).
          fileReader: { openFile: async () => recording as unknown as FileSource },
          onBeforeRequest: (req) => {
            sent.push({ method: req.getMethod(), length: req.getHeader('Upload-Length'), complete: req.getHeader('Upload-Complete') });
          },
        });
        await assertAttachment(idOf(url), file, protocol === 'tus-v1' ? 'ended-late.webm' : undefined);
        // The last request carried no bytes: it only said the recording had ended.
        const last = sent.at(-1)!;
        assert.equal(last.method, 'PATCH');
        if (protocol === 'tus-v1') assert.equal(last.length, String(file.length));
        else assert.equal(last.complete, '?1');
        assert.equal(recording.emptySlices, 1);
      });

      test(`${protocol}: the same recording over a 3G-class link that drops every open connection midway`, async () => {
        const chunkSize = 64 * 1024;
        const file = randomFile(4 * chunkSize);
        const recording = new Recording(file, chunkSize / 4, 100);
        // 1 Mbit/s up, 200 ms round trip; a 1 s outage 1.5 s in resets what is open.
        const link = await LinkEmulator.start(server.url, {
          upBytesPerSecond: 125_000,
          downBytesPerSecond: 250_000,
          delayMs: 100,
          upBufferBytes: 32 * 1024,
          downBufferBytes: 64 * 1024,
          outages: [{ atMs: 1500, durationMs: 1000, kind: 'reset' }],
        });
        try {
          const url = await upload(Buffer.alloc(0), {
            endpoint: `${link.url}/files/`,
            protocol,
            uploadLengthDeferred: true,
            chunkSize,
            retryDelays: [0, 250, 500, 1000, 1000, 2000, 2000, 3000, 3000, 3000],
            headers: { Authorization: `Bearer ${alice.token}` },
            metadata: { filename: 'over-3g.webm' },
            fileReader: { openFile: async () => recording as unknown as FileSource },
          });
          await assertAttachment(idOf(url), file);
          assert.ok(link.stats.resets >= 1, 'the outage struck while the upload was open');
        } finally {
          await link.close();
        }
      });
    }

    for (const protocol of ['ietf-draft-03', 'ietf-draft-05'] as const) {
      test(`IETF draft as tus-js-client's ${protocol}: chunked, then resumed after abort`, async () => {
        const file = randomFile(1024 * 1024 + 5);
        const headers = { Authorization: `Bearer ${alice.token}` };
        const options: UploadOptions = { endpoint, protocol, chunkSize: 256 * 1024, headers };
        const first = new tus.Upload(file, options);
        await new Promise<void>((resolve, reject) => {
          first.options.onError = reject;
          first.options.onChunkComplete = (_chunk, accepted) => {
            if (accepted >= 256 * 1024) void first.abort().then(resolve);
          };
          first.start();
        });
        const id = idOf(first.url);
        const url = await upload(file, { endpoint, protocol, uploadUrl: first.url, chunkSize: 256 * 1024, headers });
        assert.equal(idOf(url), id);
        await assertAttachment(id, file);
      });
    }

    test('a finished tus upload is usable as chunked_attachment_id', async () => {
      const { readFile } = await import('node:fs/promises');
      const wav = await readFile(new URL('../fixtures/tone.wav', import.meta.url));
      const url = await upload(wav, { endpoint, headers: { Authorization: `Bearer ${alice.token}` }, metadata: { filename: 'tone.wav', filetype: 'audio/wav' } });
      const clip = await request(server.url, 'POST', '/audio_clips', {
        token: alice.token,
        json: { audio_clip: { title: 'from tus', uploaded_data: { chunked_attachment_id: idOf(url), fingerprint: sha1(wav) } } },
      });
      assert.equal(clip.status, 201, clip.text);
      assert.equal(clip.json.body.audio_clip.audio.sha1, sha1(wav));
    });
  });
}
