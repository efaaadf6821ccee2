/**
 * WebM audio as browsers' MediaRecorder writes it: a live stream with no Duration element, no
 * cues, and (Chromium) clusters of unknown size, which general tag readers stumble over. The
 * codec, rate and channels come from the track; the duration is measured from the audio blocks
 * themselves. One pass over the file, element headers only; payloads are skipped (the first
 * byte or two of an Opus packet excepted).
 */
import { open, type FileHandle } from 'node:fs/promises';

const EBML_HEADER = 0x1a45dfa3;
const DOC_TYPE = 0x4282;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMECODE_SCALE = 0x2ad7b1;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_NUMBER = 0xd7;
const TRACK_TYPE = 0x83;
const CODEC_ID = 0x86;
const CODEC_DELAY = 0x56aa;
const AUDIO = 0xe1;
const SAMPLING_FREQUENCY = 0xb5;
const CHANNELS = 0x9f;
const CLUSTER = 0x1f43b675;
const CLUSTER_TIMECODE = 0xe7;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;
const BLOCK_DURATION = 0x9b;
/** Elements that may only sit directly in the Segment: one of them ends a cluster of unknown size. */
const SEGMENT_CHILDREN = new Set([0x114d9b74, INFO, TRACKS, CLUSTER, 0x1c53bb6b, 0x1941a469, 0x1043a770, 0x1254c367]);
const AUDIO_TRACK = 2;
const READ_SIZE = 64 * 1024;

/** Sequential reads through a window of the file; skipping past the window costs no read. */
class FileCursor {
  private readonly handle: FileHandle;
  readonly size: number;

  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;

  constructor(
    handle: FileHandle,
    size: number,
  ) {
    this.handle = handle;
    this.size = size;
  }

  /** Makes `count` bytes from the position available; false when the file ends first. */
  private async fill(count: number): Promise<boolean> {
    if (this.position + count > this.size) return false;
    const offset = this.position - this.bufferStart;
    if (offset >= 0 && offset + count <= this.buffer.length) return true;
    const length = Math.min(Math.max(count, READ_SIZE), this.size - this.position);
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, this.position);
    this.buffer = buffer.subarray(0, bytesRead);
    this.bufferStart = this.position;
    return bytesRead >= count;
  }

  async byte(): Promise<number | null> {
    if (!(await this.fill(1))) return null;
    const value = this.buffer[this.position - this.bufferStart]!;
    this.position += 1;
    return value;
  }

  /** An EBML variable-length integer; `keepMarker` for element IDs. Null at the end of the file. */
  async vint(keepMarker: boolean): Promise<{ value: number; allOnes: boolean } | null> {
    const first = await this.byte();
    if (first === null || first === 0) return null;
    const length = Math.clz32(first) - 23; // 1..8
    let value = keepMarker ? first : first & (0xff >> length);
    let allOnes = value === 0xff >> length;
    for (let i = 1; i < length; i += 1) {
      const next = await this.byte();
      if (next === null) return null;
      value = value * 256 + next;
      allOnes &&= next === 0xff;
    }
    return { value, allOnes: allOnes && !keepMarker };
  }

  async unsigned(length: number): Promise<number | null> {
    let value = 0;
    for (let i = 0; i < length; i += 1) {
      const next = await this.byte();
      if (next === null) return null;
      value = value * 256 + next;
    }
    return value;
  }

  async float(length: number): Promise<number | null> {
    if ((length !== 4 && length !== 8) || !(await this.fill(length))) return null;
    const start = this.position - this.bufferStart;
    this.position += length;
    return length === 4 ? this.buffer.readFloatBE(start) : this.buffer.readDoubleBE(start);
  }

  async text(length: number): Promise<string | null> {
    if (length > 64 || !(await this.fill(length))) return null;
    const start = this.position - this.bufferStart;
    this.position += length;
    return this.buffer.toString('latin1', start, start + length);
  }

  skip(length: number): void {
    this.position += length;
  }
}

interface ElementHeader {
  id: number;
  /** Where the payload starts. */
  start: number;
  /** Where the payload ends; Infinity for an element of unknown size. */
  end: number;
}

async function elementHeader(cursor: FileCursor): Promise<ElementHeader | null> {
  const id = await cursor.vint(true);
  if (id === null || id.value > 0xffffffff) return null;
  const size = await cursor.vint(false);
  if (size === null) return null;
  const start = cursor.position;
  return { id: id.value, start, end: size.allOnes ? Infinity : start + size.value };
}

/** Milliseconds of audio in one Opus packet, from its TOC byte (RFC 6716 3.1). */
export function opusPacketMs(toc: number, second: number | null): number {
  const config = toc >> 3;
  const frameMs = config < 12 ? [10, 20, 40, 60][config % 4]! : config < 16 ? [10, 20][config % 2]! : [2.5, 5, 10, 20][config % 4]!;
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : second === null ? 1 : second & 0x3f;
  return frameMs * frames;
}

/** What the walk has learnt so far. */
class Timeline {
  timecodeScale = 1_000_000; // ns per tick, Matroska's default
  audioTrack: number | null = null;
  codec: string | null = null;
  sampleRate: number | null = null;
  channels = 1;
  /** Decoder delay in ns (Opus pre-skip): decoded, then dropped, so not heard. */
  codecDelay = 0;
  first = Infinity;
  /** In nanoseconds. */
  end = -Infinity;
  private lastStart: number | null = null;
  private lastStep = 0;

  /** A block of the audio track at `ticks`, lasting `durationNs` when known. */
  block(ticks: number, durationNs: number | null): void {
    const startNs = ticks * this.timecodeScale;
    if (this.lastStart !== null && startNs > this.lastStart) this.lastStep = startNs - this.lastStart;
    this.lastStart = startNs;
    this.first = Math.min(this.first, startNs);
    // Without a duration, a block lasts as long as the gap before it: frames are evenly spaced.
    this.end = Math.max(this.end, startNs + (durationNs ?? this.lastStep));
  }

  seconds(): number | null {
    const heard = this.end - this.first - this.codecDelay;
    return Number.isFinite(this.first) && heard > 0 ? heard / 1e9 : null;
  }
}

async function readInfo(cursor: FileCursor, parent: ElementHeader, timeline: Timeline): Promise<void> {
  while (cursor.position < parent.end) {
    const child = await elementHeader(cursor);
    if (child === null || child.end === Infinity) return;
    if (child.id === TIMECODE_SCALE) timeline.timecodeScale = (await cursor.unsigned(child.end - child.start)) || 1_000_000;
    cursor.position = child.end;
  }
}

async function readTracks(cursor: FileCursor, parent: ElementHeader, timeline: Timeline): Promise<void> {
  while (cursor.position < parent.end) {
    const entry = await elementHeader(cursor);
    if (entry === null || entry.end === Infinity) return;
    if (entry.id === TRACK_ENTRY && timeline.audioTrack === null) {
      let number: number | null = null;
      let type: number | null = null;
      let codec: string | null = null;
      let delay = 0;
      let audio: ElementHeader | null = null;
      while (cursor.position < entry.end) {
        const field = await elementHeader(cursor);
        if (field === null || field.end === Infinity) return;
        const length = field.end - field.start;
        if (field.id === TRACK_NUMBER) number = await cursor.unsigned(length);
        else if (field.id === TRACK_TYPE) type = await cursor.unsigned(length);
        else if (field.id === CODEC_ID) codec = await cursor.text(length);
        else if (field.id === CODEC_DELAY) delay = (await cursor.unsigned(length)) ?? 0;
        else if (field.id === AUDIO) audio = field;
        cursor.position = field.end;
      }
      if (type === AUDIO_TRACK && number !== null) {
        timeline.audioTrack = number;
        timeline.codec = codec;
        timeline.codecDelay = delay;
        if (audio) await readAudioSettings(cursor, audio, timeline);
      }
    }
    cursor.position = entry.end;
  }
}

async function readAudioSettings(cursor: FileCursor, audio: ElementHeader, timeline: Timeline): Promise<void> {
  cursor.position = audio.start;
  while (cursor.position < audio.end) {
    const field = await elementHeader(cursor);
    if (field === null || field.end === Infinity) return;
    const length = field.end - field.start;
    if (field.id === SAMPLING_FREQUENCY) timeline.sampleRate = await cursor.float(length);
    else if (field.id === CHANNELS) timeline.channels = (await cursor.unsigned(length)) ?? 1;
    cursor.position = field.end;
  }
}

/** A Block or SimpleBlock: track, timecode relative to the cluster, flags, then the frames. */
async function readBlock(cursor: FileCursor, element: ElementHeader, clusterTicks: number, timeline: Timeline, durationTicks: number | null): Promise<void> {
  const track = await cursor.vint(false);
  const relative = await cursor.unsigned(2);
  const flags = await cursor.byte();
  if (track === null || relative === null || flags === null || track.value !== timeline.audioTrack) return;
  const ticks = clusterTicks + (relative >= 0x8000 ? relative - 0x10000 : relative);
  let durationNs = durationTicks === null ? null : durationTicks * timeline.timecodeScale;
  const laced = (flags & 0x06) !== 0;
  if (durationNs === null && timeline.codec === 'A_OPUS' && !laced && element.end - cursor.position >= 1) {
    const toc = await cursor.byte();
    const second = element.end - cursor.position >= 1 ? await cursor.byte() : null;
    if (toc !== null) durationNs = opusPacketMs(toc, second) * 1e6;
  }
  timeline.block(ticks, durationNs);
}

async function readBlockGroup(cursor: FileCursor, group: ElementHeader, clusterTicks: number, timeline: Timeline): Promise<void> {
  let block: ElementHeader | null = null;
  let duration: number | null = null;
  while (cursor.position < group.end) {
    const child = await elementHeader(cursor);
    if (child === null || child.end === Infinity) return;
    if (child.id === BLOCK) block = child;
    else if (child.id === BLOCK_DURATION) duration = await cursor.unsigned(child.end - child.start);
    cursor.position = child.end;
  }
  if (block === null) return;
  const after = cursor.position;
  cursor.position = block.start;
  await readBlock(cursor, block, clusterTicks, timeline, duration);
  cursor.position = after;
}

/** Reads one cluster; one of unknown size ends where the next Segment-level element begins. */
async function readCluster(cursor: FileCursor, cluster: ElementHeader, timeline: Timeline): Promise<void> {
  let ticks = 0;
  while (cursor.position < Math.min(cluster.end, cursor.size)) {
    const at = cursor.position;
    const child = await elementHeader(cursor);
    if (child === null) return;
    if (cluster.end === Infinity && SEGMENT_CHILDREN.has(child.id)) {
      cursor.position = at;
      return;
    }
    if (child.end === Infinity) return; // nothing inside a cluster may be of unknown size
    if (child.id === CLUSTER_TIMECODE) ticks = (await cursor.unsigned(child.end - child.start)) ?? 0;
    else if (child.id === SIMPLE_BLOCK) await readBlock(cursor, child, ticks, timeline, null);
    else if (child.id === BLOCK_GROUP) await readBlockGroup(cursor, child, ticks, timeline);
    cursor.position = child.end;
  }
}

export interface WebmAudio {
  codec: 'Opus' | 'Vorbis';
  sampleRate: number;
  channels: number;
  /** Seconds from the first audio block's start to the last one's end, less the decoder delay. */
  duration: number;
}

const CODECS: Record<string, WebmAudio['codec']> = { A_OPUS: 'Opus', A_VORBIS: 'Vorbis' };

/** Reads the EBML header; true when it names a WebM document. */
async function isWebm(cursor: FileCursor): Promise<boolean> {
  const header = await elementHeader(cursor);
  if (header?.id !== EBML_HEADER || header.end === Infinity) return false;
  let docType: string | null = null;
  while (cursor.position < header.end) {
    const field = await elementHeader(cursor);
    if (field === null || field.end === Infinity) return false;
    if (field.id === DOC_TYPE) docType = await cursor.text(field.end - field.start);
    cursor.position = field.end;
  }
  return docType?.replace(/\0+$/, '') === 'webm';
}

/** The first audio track of the WebM file at `path`; null when it is not WebM audio with blocks. */
export async function probeWebm(path: string): Promise<WebmAudio | null> {
  const handle = await open(path, 'r');
  try {
    const cursor = new FileCursor(handle, (await handle.stat()).size);
    if (!(await isWebm(cursor))) return null;
    const segment = await elementHeader(cursor);
    if (segment?.id !== SEGMENT) return null;
    const timeline = new Timeline();
    while (cursor.position < Math.min(segment.end, cursor.size)) {
      const element = await elementHeader(cursor);
      if (element === null) break;
      if (element.id === CLUSTER) {
        if (timeline.audioTrack === null) break; // blocks before the tracks: not a file to trust
        await readCluster(cursor, element, timeline);
        continue;
      }
      if (element.end === Infinity) break;
      if (element.id === INFO) await readInfo(cursor, element, timeline);
      else if (element.id === TRACKS) await readTracks(cursor, element, timeline);
      cursor.position = element.end;
    }
    const codec = timeline.codec === null ? undefined : CODECS[timeline.codec];
    const duration = timeline.seconds();
    if (!codec || duration === null || !timeline.sampleRate) return null;
    return { codec, sampleRate: timeline.sampleRate, channels: timeline.channels, duration };
  } finally {
    await handle.close();
  }
}

/** Whether a file's first bytes are an EBML (Matroska/WebM) header. */
export function looksLikeEbml(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3;
}
