/**
 * Whether a FLAC file holds the frames its STREAMINFO promises. Tag readers take the
 * duration from STREAMINFO alone, so a header claiming ten hours followed by zeros would
 * pass as a ten-hour clip. Here the first frame must start where the metadata ends, and
 * the last frame header in the file's tail (sync code, CRC-8, the stream's sample rate and
 * channels) must end where the total sample count says the audio ends.
 */
import { open, type FileHandle } from 'node:fs/promises';

interface StreamInfo {
  audioStart: number;
  minBlockSize: number;
  maxBlockSize: number;
  maxFrameSize: number;
  sampleRate: number;
  channels: number;
  totalSamples: number;
}

interface FrameHeader {
  firstSample: number;
  blockSize: number;
}

const SAMPLE_RATES = [0, 88_200, 176_400, 192_000, 8000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000];

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** An ID3v2 tag some writers put before `fLaC`: its length (syncsafe size plus the 10-byte header). */
function id3Length(head: Buffer): number {
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
  return 10 + size + (head[5]! & 0x10 ? 10 : 0);
}

async function readStreamInfo(file: FileHandle): Promise<StreamInfo | null> {
  let position = id3Length(await readAt(file, 0, 10));
  if ((await readAt(file, position, 4)).toString('latin1') !== 'fLaC') return null;
  position += 4;
  let info: Omit<StreamInfo, 'audioStart'> | null = null;
  for (let blocks = 0; blocks < 1024; blocks += 1) {
    const header = await readAt(file, position, 4);
    if (header.length < 4) return null;
    const last = (header[0]! & 0x80) !== 0;
    const type = header[0]! & 0x7f;
    const length = header.readUIntBE(1, 3);
    if (type === 0) {
      const body = await readAt(file, position + 4, 34);
      if (body.length < 34) return null;
      info = {
        minBlockSize: body.readUInt16BE(0),
        maxBlockSize: body.readUInt16BE(2),
        maxFrameSize: body.readUIntBE(7, 3),
        sampleRate: body.readUIntBE(10, 3) >> 4,
        channels: ((body[12]! >> 1) & 0x07) + 1,
        totalSamples: (body[13]! & 0x0f) * 2 ** 32 + body.readUInt32BE(14),
      };
    }
    position += 4 + length;
    if (last) return info && { ...info, audioStart: position };
  }
  return null;
}

/** FLAC's frame header check (CRC-8, polynomial 0x07). */
export function crc8(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** The frame or sample number, coded like UTF-8 with up to 7 bytes; [value, length] or null. */
function codedNumber(buffer: Buffer, at: number): [number, number] | null {
  const first = buffer[at];
  if (first === undefined) return null;
  let extra = 0;
  while (extra < 7 && first & (0x80 >> extra)) extra += 1;
  if (extra === 1 || extra === 7) return null;
  const length = extra === 0 ? 1 : extra;
  let value = extra === 0 ? first : first & (0xff >> (extra + 1));
  for (let i = 1; i < length; i += 1) {
    const byte = buffer[at + i];
    if (byte === undefined || (byte & 0xc0) !== 0x80) return null;
    value = value * 64 + (byte & 0x3f);
  }
  return [value, length];
}

/** A frame header at `at` that belongs to this stream, or null. */
function frameHeader(buffer: Buffer, at: number, info: StreamInfo): FrameHeader | null {
  if (buffer[at] !== 0xff || ((buffer[at + 1] ?? 0) & 0xfe) !== 0xf8 || at + 6 > buffer.length) return null;
  const variable = (buffer[at + 1]! & 1) === 1;
  const sizeCode = buffer[at + 2]! >> 4;
  const rateCode = buffer[at + 2]! & 0x0f;
  const channelCode = buffer[at + 3]! >> 4;
  if (sizeCode === 0 || rateCode === 15 || channelCode > 10 || (buffer[at + 3]! & 1) !== 0) return null;
  if ((channelCode < 8 ? channelCode + 1 : 2) !== info.channels) return null;
  const number = codedNumber(buffer, at + 4);
  if (!number) return null;
  let end = at + 4 + number[1];
  let blockSize = sizeCode === 1 ? 192 : sizeCode <= 5 ? 576 * 2 ** (sizeCode - 2) : sizeCode >= 8 ? 256 * 2 ** (sizeCode - 8) : 0;
  if (sizeCode === 6 || sizeCode === 7) {
    const bytes = sizeCode === 6 ? 1 : 2;
    if (end + bytes > buffer.length) return null;
    blockSize = buffer.readUIntBE(end, bytes) + 1;
    end += bytes;
  }
  let sampleRate = rateCode === 0 ? info.sampleRate : (SAMPLE_RATES[rateCode] ?? 0);
  if (rateCode >= 12) {
    const bytes = rateCode === 12 ? 1 : 2;
    if (end + bytes > buffer.length) return null;
    const value = buffer.readUIntBE(end, bytes);
    sampleRate = rateCode === 12 ? value * 1000 : rateCode === 13 ? value : value * 10;
    end += bytes;
  }
  if (sampleRate !== info.sampleRate || end >= buffer.length || crc8(buffer.subarray(at, end)) !== buffer[end]) return null;
  const firstSample = variable ? number[0] : number[0] * info.maxBlockSize;
  return { firstSample, blockSize };
}

/**
 * The duration STREAMINFO declares, in seconds, or null without one. Tag readers get it wrong
 * from 2^31 samples on (a 36-bit count read with 32-bit operators: a 192 kHz stream past
 * 3 h 6 min came out negative, past 6 h 12 min wrapped), so this one counts.
 */
export async function flacDuration(path: string): Promise<number | null> {
  const file = await open(path, 'r');
  try {
    const info = await readStreamInfo(file);
    return info && info.totalSamples > 0 && info.sampleRate > 0 ? info.totalSamples / info.sampleRate : null;
  } finally {
    await file.close();
  }
}

/** True when the file's frames are where its STREAMINFO says; false for a header without audio. */
export async function flacFramesPresent(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const info = await readStreamInfo(file);
    if (!info || info.totalSamples === 0 || info.maxBlockSize === 0) return false;
    const first = frameHeader(await readAt(file, info.audioStart, 32), 0, info);
    if (!first || first.firstSample !== 0) return false;
    const { size } = await file.stat();
    const window = Math.min(size - info.audioStart, Math.max(64 * 1024, Math.min(4 * 1024 * 1024, 2 * info.maxFrameSize)));
    const tail = await readAt(file, size - window, window);
    for (let at = tail.length - 6; at >= 0; at -= 1) {
      const frame = frameHeader(tail, at, info);
      if (!frame || frame.firstSample >= info.totalSamples) continue;
      // The last frame ends where the stream does (a short final block included).
      return Math.abs(frame.firstSample + frame.blockSize - info.totalSamples) <= info.maxBlockSize;
    }
    return false;
  } finally {
    await file.close();
  }
}
