/**
 * Whether a file's audio is really there, not only declared. Tag readers take durations
 * from headers, which cost nothing to forge; until decoding measures every clip, these
 * checks refuse headers whose frames are missing: FLAC's frames are looked for where its
 * STREAMINFO puts them, PCM must have the bytes its duration needs, and nothing compressed
 * may claim more than 128 bit/s of audio from its size (far below any codec's silence).
 */
import { stat } from 'node:fs/promises';
import { flacFramesPresent } from './flac-frames.js';

/** Bytes per second below which no supported compressed codec can carry audio. */
const MIN_COMPRESSED_BYTES_PER_SECOND = 16;

export interface DeclaredAudio {
  contentType: string;
  codec: string;
  duration: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number | undefined;
}

export async function audioIsThere(path: string, audio: DeclaredAudio): Promise<boolean> {
  const { size } = await stat(path);
  const pcm = /^PCM/i.test(audio.codec) && audio.bitsPerSample !== undefined && audio.bitsPerSample > 0;
  // A PCM file may stop a little short of its declared data (cut off mid-sample): 1% slack.
  const needed = pcm ? 0.99 * audio.duration * audio.sampleRate * audio.channels * (audio.bitsPerSample! / 8) : audio.duration * MIN_COMPRESSED_BYTES_PER_SECOND;
  if (size < needed) return false;
  return audio.contentType !== 'audio/flac' || flacFramesPresent(path);
}
