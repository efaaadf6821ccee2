/**
 * Long high-rate FLAC (issue 22, item 7): a correct 192 kHz FLAC with 2.208e9 samples (about
 * 3 h 12 min) was `422 unsupported_audio` while 2.112e9 passed. music-metadata reads
 * STREAMINFO's 36-bit sample count with 32-bit operators, so from 2^31 samples on it came out
 * negative (no duration: refused) and from 2^32 on it wrapped (a wrong duration). The files
 * here are built as a long stream looks where the probe reads it: STREAMINFO, the first frame
 * header right after it and the last one at the end, with the frames in between left out
 * (zeros), just enough bytes that the size checks pass. They go through the real path: a
 * clip's file part, probed on the probe worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc8 } from '../../src/media/flac-frames.js';
import { newUser, request } from '../helpers/client.js';
import { databaseKinds } from '../helpers/databases.js';
import { startServer, type TestServer } from '../helpers/server.js';

const RATE = 192_000;
const BLOCK = 4096;

/** A frame number in FLAC's UTF-8-like coding: a lead byte, then 6 bits per continuation byte. */
function codedNumber(value: number): Buffer {
  if (value < 0x80) return Buffer.from([value]);
  const tail: number[] = [];
  let rest = value;
  // What the lead byte can hold: 5 bits beside one continuation byte, a bit less per byte more.
  for (let room = 0x1f; ; room >>= 1) {
    tail.unshift(0x80 | (rest & 0x3f));
    rest = Math.floor(rest / 64);
    if (rest <= room) break;
  }
  return Buffer.from([((0xff << (7 - tail.length)) & 0xff) | rest, ...tail]);
}

/** A frame header of a fixed-blocksize, 192 kHz, 16-bit stereo stream. */
function frameHeader(frameNumber: number): Buffer {
  const head = Buffer.concat([Buffer.from([0xff, 0xf8, (12 << 4) | 3, (1 << 4) | (4 << 1)]), codedNumber(frameNumber)]);
  return Buffer.concat([head, Buffer.from([crc8(head)])]);
}

/** A FLAC whose STREAMINFO declares `samples` at 192 kHz, laid out as described above. */
function longFlac(samples: number): Buffer {
  const info = Buffer.alloc(34);
  info.writeUInt16BE(BLOCK, 0);
  info.writeUInt16BE(BLOCK, 2);
  info.writeUIntBE(16, 4, 3); // smallest frame
  info.writeUIntBE(16_384, 7, 3); // largest frame
  // 20 bits of sample rate, 3 of channels - 1, 5 of bits per sample - 1, 36 of samples.
  info.writeBigUInt64BE((BigInt(RATE) << 44n) | (1n << 41n) | (15n << 36n) | BigInt(samples), 10);
  const head = Buffer.concat([Buffer.from('fLaC'), Buffer.from([0x80, 0, 0, 34]), info, frameHeader(0)]);
  const tail = Buffer.concat([frameHeader(Math.floor((samples - 1) / BLOCK)), Buffer.alloc(64)]);
  // 20 bytes a second: above the probe's floor of 16 for any compressed audio.
  const size = Math.ceil((samples / RATE) * 20);
  return Buffer.concat([head, Buffer.alloc(size - head.length - tail.length), tail]);
}

const sqlite = databaseKinds()[0]!;

describe('long 192 kHz FLAC', () => {
  let server: TestServer;
  let user: { token: string };

  before(async () => {
    server = await startServer(sqlite, { ffmpegPath: '/nonexistent/ffmpeg' });
    user = await newUser(server.url, 'longflac');
  });
  after(() => server.close());

  for (const samples of [2_112_000_000, 2 ** 31 - 1, 2 ** 31, 2_208_000_000, 2 ** 32 - 1, 2 ** 32 + 96_000_000, 2 ** 36 / 8]) {
    test(`${samples} samples (${(samples / RATE).toFixed(0)} s) are accepted with their duration`, async () => {
      const data = longFlac(samples);
      const reply = await request(server.url, 'POST', '/audio_clips', {
        token: user.token,
        multipart: [['audio_clip[title]', `${samples} samples`], ['audio_clip[uploaded_data]', data, 'long.flac']],
      });
      assert.equal(reply.status, 201, reply.text);
      assert.equal(reply.json.body.audio_clip.audio.content_type, 'audio/flac');
      assert.ok(Math.abs(reply.json.body.audio_clip.duration - samples / RATE) < 0.001, `duration ${reply.json.body.audio_clip.duration}, expected ${samples / RATE}`);
    });
  }

  test('the same header without its last frame is still refused', async () => {
    const data = longFlac(2_208_000_000);
    data.fill(0, data.length - 200);
    const reply = await request(server.url, 'POST', '/audio_clips', {
      token: user.token,
      multipart: [['audio_clip[title]', 'no last frame'], ['audio_clip[uploaded_data]', data, 'long.flac']],
    });
    assert.equal(reply.status, 422, reply.text);
    assert.equal(reply.json.body.error.name, 'unsupported_audio');
  });
});
