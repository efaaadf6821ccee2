/**
 * The duration of a fragmented MP4 (ISO BMFF) file, summed from its fragments. MediaRecorder
 * (Safari's AAC, Chromium's Opus) writes an empty `moov` and then `moof`+`mdat` pairs, so the
 * headers hold no duration and general tag readers guess; the sample durations in each
 * fragment's `trun` are the truth. Box headers and `moof`s are read; `mdat`s are skipped.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fileBoxes as boxes, readAt, type Box } from './mp4-boxes.js';

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'mvex', 'moof', 'traf']);
/** Larger boxes of these kinds are not plausible and not read. */
const MAX_READ_BOX = 4 * 1024 * 1024;

async function payload(handle: FileHandle, box: Box): Promise<Buffer | null> {
  if (box.end - box.start > MAX_READ_BOX) return null;
  return readAt(handle, box.start, box.end - box.start);
}

interface Track {
  timescale: number;
  defaultDuration: number;
  audio: boolean;
  /** Decode time of the first fragment and end of the latest, in ticks. */
  first: number;
  end: number;
}

/** Reads tkhd/mdhd/hdlr of a trak (and below). */
async function readTrak(handle: FileHandle, trak: Box, tracks: Map<number, Track>): Promise<void> {
  let id: number | null = null;
  const track: Track = { timescale: 0, defaultDuration: 0, audio: false, first: Infinity, end: 0 };
  const walk = async (parent: Box): Promise<void> => {
    for await (const box of boxes(handle, parent.start, parent.end)) {
      if (box.type === 'mdia') await walk(box);
      const data = box.type === 'tkhd' || box.type === 'mdhd' || box.type === 'hdlr' ? await payload(handle, box) : null;
      if (data === null || data.length < 12) continue;
      const version = data[0];
      if (box.type === 'tkhd') id = data.readUInt32BE(version === 1 ? 20 : 12);
      else if (box.type === 'mdhd') track.timescale = data.readUInt32BE(version === 1 ? 20 : 12);
      else track.audio = data.toString('latin1', 8, 12) === 'soun';
    }
  };
  await walk(trak);
  if (id !== null) tracks.set(id, track);
}

function readTrex(data: Buffer, tracks: Map<number, Track>): void {
  if (data.length < 16) return;
  const track = tracks.get(data.readUInt32BE(4));
  if (track) track.defaultDuration = data.readUInt32BE(12);
}

/**
 * Adds one traf to its track. A fragment starts at its decode time (tfdt) when it has one, else
 * where the previous one ended: recorders cannot know the last sample's duration when they
 * write a fragment and guess it (Chromium writes 21 ms for a 60 ms packet), and the next
 * fragment's decode time corrects the guess.
 */
async function readTraf(handle: FileHandle, traf: Box, tracks: Map<number, Track>): Promise<void> {
  let track: Track | undefined;
  let defaultDuration = 0;
  let start: number | null = null;
  let ticks = 0;
  for await (const box of boxes(handle, traf.start, traf.end)) {
    if (box.type !== 'tfhd' && box.type !== 'tfdt' && box.type !== 'trun') continue;
    const data = await payload(handle, box);
    if (data === null || data.length < 8) return;
    const flags = data.readUIntBE(1, 3);
    if (box.type === 'tfhd') {
      track = tracks.get(data.readUInt32BE(4));
      defaultDuration = track?.defaultDuration ?? 0;
      const at = 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0);
      if (flags & 0x8 && data.length >= at + 4) defaultDuration = data.readUInt32BE(at);
    } else if (box.type === 'tfdt') {
      start = data[0] === 1 && data.length >= 12 ? Number(data.readBigUInt64BE(4)) : data.readUInt32BE(4);
    } else if (flags & 0x100) {
      const count = data.readUInt32BE(4);
      const fields = [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
      let at = 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
      if (data.length < at + count * fields * 4) return;
      for (let i = 0; i < count; i += 1, at += fields * 4) ticks += data.readUInt32BE(at);
    } else ticks += data.readUInt32BE(4) * defaultDuration;
  }
  if (!track) return;
  const from = start ?? track.end;
  track.first = Math.min(track.first, from);
  track.end = Math.max(track.end, from + ticks);
}

/**
 * Seconds of audio in a fragmented MP4: the first audio track's fragments' sample durations,
 * summed. Null when the file has no fragments (its headers then hold the duration) or no audio track.
 */
export async function measureFragmentedMp4(path: string): Promise<number | null> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const tracks = new Map<number, Track>();
    let fragments = 0;
    const walk = async (parent: Box): Promise<void> => {
      for await (const box of boxes(handle, parent.start, parent.end)) {
        if (box.type === 'trak') await readTrak(handle, box, tracks);
        else if (box.type === 'trex') {
          const data = await payload(handle, box);
          if (data) readTrex(data, tracks);
        } else if (box.type === 'traf') await readTraf(handle, box, tracks);
        else if (box.type === 'moof') {
          fragments += 1;
          await walk(box);
        } else if (CONTAINERS.has(box.type)) await walk(box);
      }
    };
    await walk({ type: 'file', start: 0, end: size });
    const audio = [...tracks.values()].find((track) => track.audio && track.timescale > 0);
    if (fragments === 0 || !audio || !(audio.end > audio.first)) return null;
    return (audio.end - audio.first) / audio.timescale;
  } finally {
    await handle.close();
  }
}
