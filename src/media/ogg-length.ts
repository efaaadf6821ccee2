/**
 * An Ogg stream's length from its pages, read at both ends of the file only: the first page
 * names the stream (serial number) and, for Opus, the samples to skip before playback
 * (pre-skip); the last page of that stream whose granule position is set gives the samples
 * decoded by its end. Needed because the tag reader, told to read headers only, leaves the
 * duration of any Ogg file beyond its read-ahead undefined (Firefox records Ogg Opus).
 */
import { open } from 'node:fs/promises';

/** The largest Ogg page: a 27-byte header, 255 lacing values, 255 segments of 255 bytes. */
const MAX_PAGE = 27 + 255 + 255 * 255;
const NO_GRANULE = 0xffffffffffffffffn;

interface PageHeader {
  serial: number;
  granule: bigint;
  /** Header, lacing values and body. */
  length: number;
  bodyStart: number;
}

function pageAt(buffer: Buffer, at: number): PageHeader | null {
  if (at + 27 > buffer.length || buffer.toString('latin1', at, at + 4) !== 'OggS' || buffer[at + 4] !== 0) return null;
  const segments = buffer[at + 26]!;
  if (at + 27 + segments > buffer.length) return null;
  let body = 0;
  for (let i = 0; i < segments; i += 1) body += buffer[at + 27 + i]!;
  return { serial: buffer.readUInt32LE(at + 14), granule: buffer.readBigUInt64LE(at + 6), length: 27 + segments + body, bodyStart: at + 27 + segments };
}

/** Seconds of audio in the Ogg file at `path` whose first stream has this sample rate, or null when its pages do not say. */
export async function oggSeconds(path: string, sampleRate: number): Promise<number | null> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, MAX_PAGE));
    await handle.read(head, 0, head.length, 0);
    const first = pageAt(head, 0);
    if (!first || first.bodyStart + 19 > head.length) return null;
    const opus = head.toString('latin1', first.bodyStart, first.bodyStart + 8) === 'OpusHead';
    // Opus granule positions count 48 kHz samples whatever the input rate was.
    const rate = opus ? 48_000 : sampleRate;
    const preSkip = opus ? head.readUInt16LE(first.bodyStart + 10) : 0;
    const tailStart = Math.max(0, size - MAX_PAGE);
    const tail = Buffer.alloc(size - tailStart);
    await handle.read(tail, 0, tail.length, tailStart);
    // Backwards to the last whole page of the stream that ends a packet (granule set).
    for (let at = tail.lastIndexOf('OggS'); at >= 0; at = at === 0 ? -1 : tail.lastIndexOf('OggS', at - 1)) {
      const page = pageAt(tail, at);
      if (!page || page.serial !== first.serial || at + page.length > tail.length || page.granule === NO_GRANULE) continue;
      const samples = Number(page.granule) - preSkip;
      return samples > 0 && rate > 0 ? samples / rate : null;
    }
    return null;
  } finally {
    await handle.close();
  }
}
