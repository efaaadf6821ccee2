/**
 * AAC in M4A reports its real channel count: the mp4a entry says 2 even for mono (what tag
 * readers report), the AudioSpecificConfig in its esds says 1. Files are made by ffmpeg here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { audioSpecificConfigChannels, mp4AacChannels } from '../../src/media/mp4-channels.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ffmpegMissing = spawnSync('ffmpeg', ['-version']).status === 0 ? false : 'ffmpeg is not installed: the M4A files are made with it';

test('AudioSpecificConfig: channel configurations and parametric stereo', () => {
  // AAC LC (2), 44.1 kHz (4), mono (1) and stereo (2): 5 + 4 + 4 bits.
  assert.equal(audioSpecificConfigChannels(Buffer.from([0x12, 0x08])), 1);
  assert.equal(audioSpecificConfigChannels(Buffer.from([0x12, 0x10])), 2);
  // Configuration 7 is 7.1: 8 channels; 0 (a program config element) says nothing here.
  assert.equal(audioSpecificConfigChannels(Buffer.from([0x12, 0x38])), 8);
  assert.equal(audioSpecificConfigChannels(Buffer.from([0x12, 0x00])), null);
  // HE-AAC v2 signalled explicitly (object type 29), mono core: decoded as stereo.
  // 11101 0110 0001 0011 00010 (PS, 24 kHz, mono, extension 48 kHz, AAC LC) then padding.
  assert.equal(audioSpecificConfigChannels(Buffer.from([0xeb, 0x09, 0x88, 0x00])), 2);
  assert.equal(audioSpecificConfigChannels(Buffer.from([0x12])), null, 'cut short');
});

describe('channels of AAC in M4A', { skip: ffmpegMissing }, () => {
  let dir: string;
  let server: TestServer;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-m4a-channels-'));
    // Processing stays off: the channels come from probing alone.
    server = await startServer(databaseKinds()[0]!, { ffmpegPath: '/nonexistent/ffmpeg' });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const make = (name: string, channels: number, extra: string[] = []) => {
    const file = path.join(dir, name);
    const run = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-ac', String(channels), '-c:a', 'aac', ...extra, file]);
    assert.equal(run.status, 0, run.stderr.toString());
    return file;
  };

  test('a clip from a mono M4A says 1 channel, from a stereo one 2', async () => {
    const user = await newUser(server.url, 'channels');
    for (const [name, channels, extra] of [
      ['mono.m4a', 1, []],
      ['stereo.m4a', 2, []],
      ['mono-faststart.m4a', 1, ['-movflags', '+faststart']],
      ['mono-fragmented.m4a', 1, ['-movflags', '+frag_keyframe+empty_moov']],
      ['surround.m4a', 6, []],
    ] as Array<[string, number, string[]]>) {
      const file = make(name, channels, extra);
      assert.equal(await mp4AacChannels(file), channels, name);
      const reply = await request(server.url, 'POST', '/audio_clips', {
        token: user.token,
        multipart: [
          ['audio_clip[title]', name],
          ['audio_clip[uploaded_data]', await readFile(file), name],
        ],
      });
      assert.equal(reply.status, 201, reply.text);
      const audio = reply.json.body.audio_clip.audio as { content_type: string; channels: number };
      assert.equal(audio.content_type, 'audio/mp4', name);
      assert.equal(audio.channels, channels, name);
    }
  });
});
