/**
 * What a stored file really is, from its bytes: music-metadata for audio (headers only,
 * so the time does not grow with the file), image-size for images. Anything that is not
 * clearly one of the supported kinds is refused.
 */
import { open } from 'node:fs/promises';
import type { AudioInfo, ImageInfo } from '../domain/media/ports.js';
import { audioIsThere } from './audio-evidence.js';
import { flacDuration } from './flac-frames.js';
import { mp4AacChannels } from './mp4-channels.js';
import { measureFragmentedMp4 } from './mp4-fragments.js';
import { oggSeconds } from './ogg-length.js';
import { looksLikeEbml, probeWebm } from './webm-probe.js';

/** ISO base media brands: MediaRecorder writes fragmented MP4 (iso5, iso6, mp41...). */
const ISO_BMFF = /^(M4A\b|mp4|isom|iso\d|dash)/i;

/** Container names as music-metadata reports them → the content type served. */
function audioContentType(container: string, codec: string): string | null {
  if (container === 'FLAC') return 'audio/flac';
  if (container === 'MPEG') return /layer 3/i.test(codec) ? 'audio/mpeg' : null;
  if (container === 'WAVE') return 'audio/wav';
  if (container === 'AIFF' || container === 'AIFF-C') return 'audio/aiff';
  if (container === 'Ogg') return /vorbis|opus|flac/i.test(codec) ? 'audio/ogg' : null;
  // AAC in Safari's recordings, Opus in Chromium's.
  if (ISO_BMFF.test(container)) return /aac|alac|mp4a|opus/i.test(codec) ? 'audio/mp4' : null;
  return null;
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Recorded WebM declares no duration, and its clusters may be of unknown size: it has its own reader. */
async function probeWebmAudio(path: string): Promise<AudioInfo | null> {
  const webm = await probeWebm(path).catch(() => null);
  if (!webm || webm.sampleRate < 1000 || webm.sampleRate > 768_000 || webm.channels < 1 || webm.channels > 32) return null;
  return { contentType: 'audio/webm', ...webm };
}

export async function probeAudio(path: string): Promise<AudioInfo | null> {
  if (looksLikeEbml(await readHead(path, 4))) return probeWebmAudio(path);
  // Loaded on first use: a server that only receives chunks never needs it.
  const { parseFile } = await import('music-metadata');
  let metadata;
  try {
    metadata = await parseFile(path, { duration: false, skipCovers: true, skipPostHeaders: true });
  } catch {
    return null;
  }
  const { container, sampleRate, numberOfChannels, bitrate } = metadata.format;
  // A fragmented MP4's headers hold no duration: its fragments are summed instead.
  const fragmented = container && ISO_BMFF.test(container) ? await measureFragmentedMp4(path).catch(() => null) : null;
  // FLAC's sample count is read here too: music-metadata's is wrong from 2^31 samples on.
  const flac = container === 'FLAC' ? await flacDuration(path) : null;
  // Read headers-only, an Ogg file longer than the reader's look-ahead has no duration: its last page has it.
  const ogg = container === 'Ogg' && !metadata.format.duration && sampleRate ? await oggSeconds(path, sampleRate).catch(() => null) : null;
  const duration = fragmented ?? flac ?? ogg ?? metadata.format.duration;
  // music-metadata names no codec for Opus in MP4; its track does.
  const codec = metadata.format.codec ?? (metadata.format.trackInfo.find((track) => track.codecId === 'Opus') ? 'Opus' : undefined);
  if (!container || !codec || !sampleRate || !numberOfChannels || !duration) return null;
  // Headers alone (a file cut off after them) declare a duration but carry no audio.
  if (bitrate !== undefined && !(bitrate > 0)) return null;
  if (!Number.isFinite(duration) || duration <= 0 || sampleRate < 1000 || sampleRate > 768_000 || numberOfChannels > 32) return null;
  const contentType = audioContentType(container, codec);
  if (!contentType) return null;
  // Declared is not present: a header claiming hours followed by nothing is not that audio.
  if (!(await audioIsThere(path, { contentType, codec, duration, sampleRate, channels: numberOfChannels, bitsPerSample: metadata.format.bitsPerSample }))) return null;
  // music-metadata reports the mp4a entry's channelcount (2 even for mono); the AAC config knows.
  const channels = contentType === 'audio/mp4' && /aac|mp4a/i.test(codec) ? ((await mp4AacChannels(path).catch(() => null)) ?? numberOfChannels) : numberOfChannels;
  return { contentType, codec, duration, sampleRate, channels };
}

/** Enough of a file to find JPEG dimensions behind large EXIF blocks. */
const IMAGE_HEAD = 512 * 1024;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export async function probeImage(path: string): Promise<ImageInfo | null> {
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(IMAGE_HEAD);
    const { bytesRead } = await handle.read(buffer, 0, IMAGE_HEAD, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const isPng = head.subarray(0, 8).equals(PNG_MAGIC);
  const isJpeg = head.length > 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
  if (!isPng && !isJpeg) return null;
  const { imageSize } = await import('image-size');
  try {
    const size = imageSize(head);
    if (!size.width || !size.height || (size.type !== 'png' && size.type !== 'jpg')) return null;
    return { contentType: size.type === 'png' ? 'image/png' : 'image/jpeg', width: size.width, height: size.height };
  } catch {
    return null;
  }
}

