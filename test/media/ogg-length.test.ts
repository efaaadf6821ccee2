/**
 * Ogg files of any length are audio (SPEC 8; Firefox records Ogg Opus): the probe reads only
 * headers, so beyond the tag reader's look-ahead an Ogg file had no duration and was refused
 * as `unsupported_audio` (found with 13 s of Vorbis). Its length now comes from its last page.
 * Checked against ffprobe for Vorbis and Opus from 2 s to 3 minutes, for an Opus file cut
 * mid-page, and for a last page claiming hours over a few bytes (still refused).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { probeAudio } from '../../src/media/prober.js';
import { mediaToolsMissing } from '../helpers/processing.js';

const run = promisify(execFile);
const missing = mediaToolsMissing();

async function ffprobeSeconds(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

describe('Ogg length', { skip: missing }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-ogg-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const encode = async (name: string, seconds: number, codec: string[]) => {
    const file = path.join(dir, name);
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:r=44100:a=0.2`, ...codec, '-f', 'ogg', file]);
    return file;
  };

  for (const [label, codec] of [
    ['Vorbis, 44.1 kHz stereo', ['-ac', '2', '-c:a', 'libvorbis']],
    ['Opus, mono 24 kbit/s', ['-ac', '1', '-c:a', 'libopus', '-b:a', '24k']],
  ] as const) {
    test(`${label}: 2 s to 3 min, as long as ffprobe says`, async () => {
      for (const seconds of [2, 30, 180]) {
        const file = await encode(`${seconds}-${label.slice(0, 4)}.ogg`, seconds, [...codec]);
        const info = await probeAudio(file);
        assert.ok(info, `${label}, ${seconds} s: refused`);
        assert.equal(info.contentType, 'audio/ogg');
        const reference = await ffprobeSeconds(file);
        assert.ok(Math.abs(info.duration - reference) < 0.03, `${label}, ${seconds} s: ${info.duration} vs ffprobe ${reference}`);
      }
    });
  }

  test('cut mid-page: the length up to the last whole page; hours claimed over a few bytes: refused', async () => {
    const file = await encode('cut.ogg', 60, ['-ac', '1', '-c:a', 'libopus', '-b:a', '24k']);
    const whole = await readFile(file);
    const cut = path.join(dir, 'cut-half.ogg');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2) + 333));
    const info = await probeAudio(cut);
    assert.ok(info);
    assert.ok(info.duration > 25 && info.duration < 35, String(info.duration));

    // The first 150 KB of pages of a real file, then a last page whose granule position says 10 hours.
    const head = whole.subarray(0, whole.lastIndexOf('OggS', 150_000));
    const last = Buffer.from(whole.subarray(whole.lastIndexOf('OggS')));
    last.writeBigUInt64LE(BigInt(10 * 3600 * 48_000), 6);
    const forged = path.join(dir, 'forged.ogg');
    await writeFile(forged, Buffer.concat([head, last]));
    assert.equal(await probeAudio(forged), null);
  });
});
