/** Walking the boxes of an MP4 (ISO BMFF) file without reading it whole. */
import type { FileHandle } from 'node:fs/promises';

export interface Box {
  type: string;
  /** Payload start and end. */
  start: number;
  end: number;
}

/** Exactly `length` bytes at `position`, or null where the file is shorter. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer | null> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return bytesRead === length ? buffer : null;
}

/** The boxes directly inside [start, end) of the file; a box that does not fit ends the walk. */
export async function* fileBoxes(handle: FileHandle, start: number, end: number): AsyncGenerator<Box> {
  for (let at = start; at + 8 <= end; ) {
    const header = await readAt(handle, at, 8);
    if (header === null) return;
    let size = header.readUInt32BE(0);
    let headerLength = 8;
    if (size === 1) {
      // A 64-bit size follows the type.
      const large = await readAt(handle, at + 8, 8);
      if (large === null) return;
      size = Number(large.readBigUInt64BE(0));
      headerLength = 16;
    } else if (size === 0) size = end - at;
    if (size < headerLength || at + size > end) return;
    yield { type: header.toString('latin1', 4, 8), start: at + headerLength, end: at + size };
    at += size;
  }
}
