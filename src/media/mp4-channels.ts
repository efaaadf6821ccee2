/**
 * The channel count of AAC in an MP4 (M4A) file, from the track's own description. The `mp4a`
 * sample entry's `channelcount` is 2 in most files whatever the audio is (encoders write the
 * ISO default), which is what general tag readers report; the decoder configuration in its
 * `esds` box (the AudioSpecificConfig, ISO/IEC 14496-3 1.6.2.1) says how many there are.
 *
 * Walks moov/trak/mdia/minf/stbl/stsd by box headers, reading only the small boxes on the way,
 * so the position of `moov` (before or after `mdat`) and the file's size do not matter.
 */
import { open } from 'node:fs/promises';
import { fileBoxes, readAt, type Box } from './mp4-boxes.js';

/** Boxes to descend into on the way to the sample descriptions. */
const PATH = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);
/** An stsd larger than this is not plausible and not read. */
const MAX_STSD = 64 * 1024;

/** The boxes directly inside `bytes` (32-bit sizes: what sample descriptions use). */
function* bufferBoxes(bytes: Buffer, start: number, end: number): Generator<Box> {
  for (let at = start; at + 8 <= end; ) {
    const size = bytes.readUInt32BE(at);
    if (size < 8 || at + size > end) return;
    yield { type: bytes.toString('latin1', at + 4, at + 8), start: at + 8, end: at + size };
    at += size;
  }
}

/** A minimal MSB-first bit reader. */
class Bits {
  private readonly bytes: Buffer;

  private position = 0;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  read(count: number): number | null {
    let value = 0;
    for (let i = 0; i < count; i += 1) {
      const byte = this.bytes[this.position >> 3];
      if (byte === undefined) return null;
      value = value * 2 + ((byte >> (7 - (this.position & 7))) & 1);
      this.position += 1;
    }
    return value;
  }
}

/** Channels for channelConfiguration values (0: given by a program config element instead). */
const CHANNEL_CONFIGURATIONS: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8 };
/** Parametric Stereo: one coded channel decoded as two. */
const PS_OBJECT_TYPE = 29;
const SBR_OBJECT_TYPE = 5;

function objectType(bits: Bits): number | null {
  const type = bits.read(5);
  if (type !== 31) return type;
  const escaped = bits.read(6);
  return escaped === null ? null : 32 + escaped;
}

function skipSamplingFrequency(bits: Bits): boolean {
  const index = bits.read(4);
  return index !== null && (index !== 15 || bits.read(24) !== null);
}

/** Channels an AudioSpecificConfig declares, or null when it does not say (or cannot be read). */
export function audioSpecificConfigChannels(config: Buffer): number | null {
  const bits = new Bits(config);
  const type = objectType(bits);
  if (type === null || !skipSamplingFrequency(bits)) return null;
  const configuration = bits.read(4);
  if (configuration === null) return null;
  // Explicit SBR/PS signalling: the extension's rate, then the core's object type.
  if (type === SBR_OBJECT_TYPE || type === PS_OBJECT_TYPE) {
    if (!skipSamplingFrequency(bits) || objectType(bits) === null) return null;
  }
  const channels = CHANNEL_CONFIGURATIONS[configuration];
  if (channels === undefined) return null;
  return type === PS_OBJECT_TYPE && channels === 1 ? 2 : channels;
}

/** An MPEG-4 descriptor's tag and payload at `at` (sizes are 1-4 bytes of 7 bits each). */
function descriptor(bytes: Buffer, at: number, end: number): { tag: number; start: number; end: number } | null {
  if (at >= end) return null;
  const tag = bytes[at]!;
  let size = 0;
  let position = at + 1;
  for (let i = 0; i < 4; i += 1) {
    const byte = bytes[position];
    if (byte === undefined || position >= end) return null;
    position += 1;
    size = size * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) break;
  }
  return position + size <= end ? { tag, start: position, end: position + size } : null;
}

const ES_DESCRIPTOR = 0x03;
const DECODER_CONFIG = 0x04;
const DECODER_SPECIFIC_INFO = 0x05;

/** The AudioSpecificConfig inside an esds box's payload (after its version and flags). */
function esdsAudioConfig(bytes: Buffer, start: number, end: number): Buffer | null {
  const es = descriptor(bytes, start + 4, end);
  if (es === null || es.tag !== ES_DESCRIPTOR) return null;
  // ES_ID (2), then flags saying which optional fields follow.
  const flags = bytes[es.start + 2];
  if (flags === undefined) return null;
  let at = es.start + 3;
  if (flags & 0x80) at += 2; // dependsOn_ES_ID
  if (flags & 0x40) at += 1 + (bytes[at] ?? 0); // URL
  if (flags & 0x20) at += 2; // OCR_ES_Id
  for (let child = descriptor(bytes, at, es.end); child !== null; child = descriptor(bytes, child.end, es.end)) {
    if (child.tag !== DECODER_CONFIG) continue;
    // objectTypeIndication, streamType, bufferSizeDB (3), maxBitrate (4), avgBitrate (4).
    for (let info = descriptor(bytes, child.start + 13, child.end); info !== null; info = descriptor(bytes, info.end, child.end)) {
      if (info.tag === DECODER_SPECIFIC_INFO) return bytes.subarray(info.start, info.end);
    }
    return null;
  }
  return null;
}

/** Channels of an `mp4a` sample entry: its AudioSpecificConfig's, else its channelcount. */
function mp4aChannels(bytes: Buffer, entry: Box): number | null {
  // SampleEntry (8), then AudioSampleEntry: version (2), reserved (6), channelcount (2), samplesize (2), reserved (4), samplerate (4).
  const childrenAt = entry.start + 28;
  if (childrenAt > entry.end) return null;
  const version = bytes.readUInt16BE(entry.start + 8);
  const declared = bytes.readUInt16BE(entry.start + 16);
  // QuickTime sound description versions 1 and 2 carry more fields before the children.
  const children = version === 1 ? childrenAt + 16 : version === 2 ? childrenAt + 36 : childrenAt;
  for (const box of bufferBoxes(bytes, children, entry.end)) {
    if (box.type !== 'esds') continue;
    const config = esdsAudioConfig(bytes, box.start, box.end);
    const channels = config === null ? null : audioSpecificConfigChannels(config);
    if (channels !== null) return channels;
  }
  return version === 0 && declared >= 1 && declared <= 32 ? declared : null;
}

/**
 * The channel count of the first AAC (`mp4a`) track of an MP4 file, or null when there is
 * none or its description says nothing usable.
 */
export async function mp4AacChannels(path: string): Promise<number | null> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const search = async (start: number, end: number): Promise<number | null> => {
      for await (const box of fileBoxes(handle, start, end)) {
        if (PATH.has(box.type)) {
          const found = await search(box.start, box.end);
          if (found !== null) return found;
        } else if (box.type === 'stsd' && box.end - box.start <= MAX_STSD) {
          const bytes = await readAt(handle, box.start, box.end - box.start);
          if (bytes === null) continue;
          // Version and flags (4), entry count (4), then the sample entries.
          for (const entry of bufferBoxes(bytes, 8, bytes.length)) {
            if (entry.type !== 'mp4a') continue;
            const channels = mp4aChannels(bytes, entry);
            if (channels !== null) return channels;
          }
        }
      }
      return null;
    };
    return await search(0, size);
  } finally {
    await handle.close();
  }
}
