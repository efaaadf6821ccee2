/**
 * Audio as browsers record it: WebM/Opus written as a live stream (no duration, no cues,
 * clusters of unknown size in Chromium's case) and fragmented MP4/AAC (Safari). The duration
 * comes from the audio itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { probeAudio } from '../../src/media/prober.js';
import { opusPacketMs, probeWebm } from '../../src/media/webm-probe.js';
import { fixture, FIXTURES } from '../helpers/media.js';

const CLUSTER_ID = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** Size of an EBML size field from its first byte. */
const vintLength = (first: number) => Math.clz32(first) - 23;

/** Rewrites every cluster header to "unknown size", as Chromium's MediaRecorder writes them. */
function withUnknownSizeClusters(webm: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = webm.indexOf(CLUSTER_ID); at >= 0; at = webm.indexOf(CLUSTER_ID, at + 4)) {
    const sizeLength = vintLength(webm[at + 4]!);
    parts.push(webm.subarray(from, at + 4), UNKNOWN_SIZE);
    from = at + 4 + sizeLength;
  }
  parts.push(webm.subarray(from));
  return Buffer.concat(parts);
}

const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;

describe('recorded audio', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-recorded-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, bytes: Buffer): Promise<string> {
    const target = path.join(dir, name);
    await writeFile(target, bytes);
    return target;
  }

  test('the recorded fixtures declare no duration, and are measured from their audio', async () => {
    const webm = fixture('recorded.webm');
    assert.equal(webm.indexOf(Buffer.from([0x44, 0x89])), -1, 'no Duration element');
    assert.equal(webm.indexOf(Buffer.from([0x1c, 0x53, 0xbb, 0x6b])), -1, 'no Cues');
    const webmInfo = await probeAudio(path.join(FIXTURES, 'recorded.webm'));
    assert.equal(webmInfo?.contentType, 'audio/webm');
    assert.ok(Math.abs(webmInfo.duration - 1) < 0.03, `webm ${webmInfo.duration}`);

    const mp4 = fixture('recorded.mp4');
    assert.ok(mp4.indexOf('moof') > 0 && mp4.indexOf('mehd') === -1, 'fragmented, no fragment duration header');
    const mp4Info = await probeAudio(path.join(FIXTURES, 'recorded.mp4'));
    assert.equal(mp4Info?.contentType, 'audio/mp4');
    assert.ok(Math.abs(mp4Info.duration - 1) < 0.03, `mp4 ${mp4Info.duration}`);
  });

  test("Chromium's own recordings (WebM/Opus, fragmented MP4/Opus) measure what ffmpeg decodes from them", async () => {
    const webm = fixture('chromium-recorded.webm');
    // Live-mode WebM: a Segment and Clusters of unknown size.
    assert.equal(webm.subarray(webm.indexOf(CLUSTER_ID) + 4, webm.indexOf(CLUSTER_ID) + 12).toString('hex'), UNKNOWN_SIZE.toString('hex'));
    const webmInfo = await probeAudio(path.join(FIXTURES, 'chromium-recorded.webm'));
    assert.ok(webmInfo);
    assert.deepEqual({ ...webmInfo, duration: undefined }, { contentType: 'audio/webm', codec: 'Opus', sampleRate: 48000, channels: 1, duration: undefined });
    assert.ok(Math.abs(webmInfo.duration - 3) < 0.03, `webm ${webmInfo.duration}`);
    // Each fragment's last sample is written with a guessed 21 ms; the next fragment's decode time corrects it.
    const mp4Info = await probeAudio(path.join(FIXTURES, 'chromium-recorded.mp4'));
    assert.equal(mp4Info?.contentType, 'audio/mp4');
    assert.equal(mp4Info.codec, 'Opus');
    assert.ok(Math.abs(mp4Info.duration - 3) < 0.07, `mp4 ${mp4Info.duration}`);
  });

  test('clusters of unknown size, as Chromium writes them, measure the same', async () => {
    const original = fixture('recorded.webm');
    const rewritten = withUnknownSizeClusters(original);
    assert.ok(rewritten.length > original.length, 'the rewrite changed the cluster headers');
    const a = await probeWebm(path.join(FIXTURES, 'recorded.webm'));
    const b = await probeWebm(await file('unknown.webm', rewritten));
    assert.deepEqual(a, { codec: 'Opus', sampleRate: 48000, channels: 1, duration: a?.duration });
    assert.deepEqual(b, a);
    assert.equal((await probeAudio(path.join(dir, 'unknown.webm')))?.duration, a.duration);
  });

  test('a WebM cut short measures what it holds; headers alone are refused', async () => {
    const webm = fixture('recorded.webm');
    const firstCluster = webm.indexOf(CLUSTER_ID);
    assert.equal(await probeWebm(await file('headers.webm', webm.subarray(0, firstCluster))), null);
    assert.equal(await probeAudio(path.join(dir, 'headers.webm')), null);
    const half = await probeWebm(await file('half.webm', webm.subarray(0, Math.floor(webm.length / 2))));
    assert.ok(half !== null && half.duration > 0.2 && half.duration < 0.8, `half: ${half?.duration}`);
    assert.equal(await probeWebm(await file('noise.webm', Buffer.alloc(5000, 0xa3))), null);
    // An EBML header that is not WebM (here with its DocType changed) is not taken for it.
    const matroska = Buffer.from(webm);
    matroska.write('wxbm', matroska.indexOf('webm'));
    assert.equal(await probeAudio(await file('other.webm', matroska)), null);
  });

  test('Opus packet durations follow the TOC byte', () => {
    assert.equal(opusPacketMs(0b11111000, null), 20); // CELT 20 ms, one frame
    assert.equal(opusPacketMs(0b11111001, null), 40); // two frames
    assert.equal(opusPacketMs(0b00011011, 0x03), 180); // SILK 60 ms, three frames
    assert.equal(opusPacketMs(0b10000000, null), 2.5);
    assert.equal(opusPacketMs(0b01100000, null), 10); // hybrid 10 ms
  });

  test('longer recordings made by ffmpeg into a pipe (WebM/Opus, MP4/AAC, MP4/Opus) measure within 30 ms', { skip: hasFfmpeg ? false : 'ffmpeg is not installed' }, async () => {
    const seconds = 37.3;
    const tone = `sine=frequency=330:sample_rate=48000:duration=${seconds}`;
    const make = (args: string[]) => {
      const result = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', tone, ...args, 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
      assert.equal(result.status, 0, String(result.stderr));
      return result.stdout;
    };
    const webm = await file('long.webm', withUnknownSizeClusters(make(['-ac', '1', '-c:a', 'libopus', '-b:a', '24k', '-live', '1', '-f', 'webm'])));
    const mp4 = await file('long.mp4', make(['-ac', '1', '-c:a', 'aac', '-b:a', '48k', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', '-f', 'mp4']));
    // Chromium's MediaRecorder puts Opus in fragmented MP4.
    const mp4Opus = await file('long-opus.mp4', make(['-ac', '1', '-c:a', 'libopus', '-b:a', '24k', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000', '-f', 'mp4']));
    for (const target of [webm, mp4, mp4Opus]) {
      const info = await probeAudio(target);
      assert.ok(info, target);
      assert.ok(Math.abs(info.duration - seconds) < 0.03, `${path.basename(target)}: ${info.duration} s for ${seconds} s`);
    }
  });
});
