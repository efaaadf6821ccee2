/**
 * The ffmpeg adapter on its own: found on PATH or not at all, killed (SIGKILL) past its time
 * limit even when its input stalls, ffmpeg's stderr as the error, waveform peaks from PCM
 * arriving in arbitrary pieces.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { MediaFailure } from '../../src/domain/media/processing.js';
import type { MediaFileRecord } from '../../src/domain/media/ports.js';
import { FfmpegAudioProcessor, WaveformBuilder } from '../../src/media/audio-renditions.js';
import { locateFfmpeg, runTool } from '../../src/media/ffmpeg.js';
import type { RenditionStorage } from '../../src/media/rendition-storage.js';
import { fixture, wavHeader } from '../helpers/media.js';
import { mediaToolsMissing } from '../helpers/processing.js';

const missing = mediaToolsMissing();

const audioFile = (contentType: string): MediaFileRecord => ({
  id: 1,
  userId: 1,
  storageKey: 'k',
  kind: 'audio',
  filename: 'x',
  contentType,
  size: 0,
  sha1: '',
  audio: { codec: 'pcm', duration: 0, sampleRate: 8000, channels: 1 },
  image: null,
  createdAt: 0,
});

/** A storage whose only file is the given stream (as a store without local paths serves it). */
function streamingStorage(stream: () => Readable): RenditionStorage {
  return {
    input: () => ({ stream }),
    save: async () => {
      throw new Error('nothing should be stored');
    },
    discard: async () => undefined,
  } as unknown as RenditionStorage;
}

test('waveform peaks: min/max per point, whatever the pieces the PCM arrives in', () => {
  const samples = Buffer.alloc(2 * 10);
  [0, 256, -256, 32767, -32768, 512, 1024, -1024, 0, 300].forEach((value, i) => samples.writeInt16LE(value, 2 * i));
  const whole = new WaveformBuilder(8000, 4);
  whole.add(samples);
  const pieces = new WaveformBuilder(8000, 4);
  const cuts = [0, 1, 3, 6, 11, 20]; // pieces that split samples
  for (let i = 0; i + 1 < cuts.length; i += 1) pieces.add(samples.subarray(cuts[i], cuts[i + 1]));
  const expected = { version: 2, channels: 1, sample_rate: 8000, samples_per_pixel: 4, bits: 8, length: 3, data: [-1, 127, -128, 4, 0, 1] };
  assert.deepEqual(JSON.parse(whole.json()), expected);
  assert.deepEqual(JSON.parse(pieces.json()), expected);
  assert.equal(pieces.samples, 10);
});

describe('ffmpeg', { skip: missing }, () => {
  test('is found on PATH, by path, or not at all', async () => {
    const found = await locateFfmpeg('ffmpeg');
    assert.ok(found && found.endsWith('/ffmpeg'));
    assert.equal(await locateFfmpeg(found), found);
    assert.equal(await locateFfmpeg('/nonexistent/ffmpeg'), null);
    assert.equal(await locateFfmpeg('ffmpeg', { PATH: '/nonexistent' }), null);
    assert.equal(await locateFfmpeg('/bin/false'), null, 'an executable that is not a working ffmpeg');
  });

  test('a run past its time limit is killed and fails media_timeout, also when its input stalls', async () => {
    const ffmpeg = (await locateFfmpeg('ffmpeg'))!;
    const stalled = new PassThrough(); // never ends: ffmpeg waits for input forever
    stalled.write(Buffer.alloc(1000));
    const started = Date.now();
    await assert.rejects(
      runTool({ program: ffmpeg, args: ['-hide_banner', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 'null', '-'], stdin: stalled, timeoutMs: 500 }),
      (error: unknown) => error instanceof MediaFailure && error.errorName === 'media_timeout',
    );
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);

    // The whole audio step, reading a stream that delivers a WAV header and then nothing more.
    const processor = new FfmpegAudioProcessor(ffmpeg, streamingStorage(() => {
      const input = new PassThrough();
      input.write(Buffer.concat([wavHeader(0x7ffff000), Buffer.alloc(8000)]));
      return input;
    }), { timeoutMs: 700 });
    const at = Date.now();
    await assert.rejects(processor.analyse(audioFile('audio/wav'), new AbortController().signal), (error: unknown) => error instanceof MediaFailure && error.errorName === 'media_timeout');
    assert.ok(Date.now() - at < 5000);
  });

  test("undecodable input fails media_unreadable with ffmpeg's own words", async () => {
    const ffmpeg = (await locateFfmpeg('ffmpeg'))!;
    const processor = new FfmpegAudioProcessor(ffmpeg, streamingStorage(() => Readable.from([fixture('not-audio.bin')])), { timeoutMs: 10_000 });
    await assert.rejects(processor.analyse(audioFile('audio/wav'), new AbortController().signal), (error: unknown) => {
      assert.ok(error instanceof MediaFailure);
      assert.equal(error.errorName, 'media_unreadable');
      assert.match(error.message, /pipe:0|Invalid data|could not find|Error/i);
      assert.ok(error.message.length <= 501);
      return true;
    });
  });

  test('a cancelled job stops ffmpeg and is not a media failure (it runs again later)', async () => {
    const ffmpeg = (await locateFfmpeg('ffmpeg'))!;
    const stalled = new PassThrough();
    const abort = new AbortController();
    const running = runTool({ program: ffmpeg, args: ['-hide_banner', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 'null', '-'], stdin: stalled, timeoutMs: 60_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    await assert.rejects(running, (error: unknown) => error instanceof Error && !(error instanceof MediaFailure));
  });
});
