/**
 * Uploading while recording over the 3G handover link: a recorder gives a piece of audio a
 * second, as MediaRecorder does, and the upload sends each as it comes. Measured: from the end
 * of the recording (its last piece given) to the server holding the whole file with the right
 * SHA1, and the link bytes, for the SDK's growing upload and for `trickle upload -` fed on
 * standard input. The recordings end at different points of the outage cycle (one inside an
 * outage), and the median is what the table shows.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrickleClient, upload } from '../../src/client/node.js';
import type { LinkEmulator } from '../../test/helpers/link-emulator.js';
import { wavHeader, WAV_HEADER_BYTES } from '../source-file.js';
import { sha1Of } from './runs.js';

export type RecordingClient = 'sdk-growing' | 'cli-stdin' | 'web-recorder';

export const RECORDING_LABEL: Record<RecordingClient, string> = {
  'sdk-growing': 'Trickle SDK upload(stream)',
  'cli-stdin': 'trickle upload -',
  'web-recorder': 'web app recorder (Chromium)',
};

export interface RecordingRecord {
  client: RecordingClient;
  seconds: number;
  ok: boolean;
  error: string | null;
  /** From the recording's end to the whole file on the server with its SHA1. */
  afterEndMs: number;
  fileBytes: number;
  linkBytes: number;
}

/** 16 kHz 16-bit mono: 32 kB a second, a piece a second. */
const BYTES_PER_SECOND = 32_000;
/** Ending 5.0 s, 6.6 s (inside the 6-8 s outage) and 1.4 s into the link's 8 s cycle. */
export const RECORDING_SECONDS = [13, 14.6, 17.4];
const CUT_OFF_MS = 60_000;

/** A WAV recording of `seconds`, random samples: nothing compresses them, and no two are alike. */
function recording(seconds: number): Buffer {
  const data = Buffer.alloc(Math.round(seconds * BYTES_PER_SECOND) - WAV_HEADER_BYTES);
  randomFillSync(data);
  return Buffer.concat([wavHeader(data.length), data]);
}

/** The recording's pieces in real time, from `startedAt`; `ended` is told when the last one is given. */
async function* live(bytes: Buffer, startedAt: number, ended: (at: number) => void): AsyncGenerator<Uint8Array> {
  const pieces = Math.ceil(bytes.length / BYTES_PER_SECOND);
  for (let i = 0; i < pieces; i += 1) {
    // The piece for second i exists once that second has been recorded.
    const due = startedAt + Math.min((i + 1) * 1000, (bytes.length / BYTES_PER_SECOND) * 1000);
    await sleep(Math.max(0, due - performance.now()));
    if (i === pieces - 1) ended(performance.now());
    yield bytes.subarray(i * BYTES_PER_SECOND, (i + 1) * BYTES_PER_SECOND);
  }
}

/** Waits (polling the server directly) until an attachment of the user holds `sha1`; resolves when it was seen. */
async function whenStored(direct: TrickleClient, sha1: string, signal: AbortSignal): Promise<number> {
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const attachments = await direct.attachments({ items: 5 });
    if (attachments.some((a) => a.sha1 === sha1)) return performance.now();
    await sleep(20);
  }
}

async function measure(client: RecordingClient, seconds: number, link: LinkEmulator, record: (bytes: Buffer, signal: AbortSignal, ended: (at: number) => void) => Promise<number>): Promise<RecordingRecord> {
  const bytes = recording(seconds);
  const stop = AbortSignal.timeout(seconds * 1000 + CUT_OFF_MS);
  let endedAt = 0;
  link.restart();
  try {
    const doneAt = await record(bytes, stop, (at) => (endedAt = at));
    return { client, seconds, ok: true, error: null, afterEndMs: doneAt - endedAt, fileBytes: bytes.length, linkBytes: link.stats.upBytes };
  } catch (error) {
    return { client, seconds, ok: false, error: error instanceof Error ? error.message : String(error), afterEndMs: NaN, fileBytes: bytes.length, linkBytes: link.stats.upBytes };
  }
}

export function sdkRecording(seconds: number, link: LinkEmulator, token: string, direct: TrickleClient): Promise<RecordingRecord> {
  return measure('sdk-growing', seconds, link, async (bytes, signal, ended) => {
    const result = await upload(live(bytes, performance.now(), ended), { server: link.url, token, filename: 'live.wav', state: false, signal });
    const doneAt = performance.now();
    const stored = await direct.attachment(result.attachmentId);
    if (stored.sha1 !== sha1Of(bytes)) throw new Error(`SHA1 ${stored.sha1} on the server, ${sha1Of(bytes)} recorded`);
    return doneAt;
  });
}

/** `trickle upload - --title Live` (the built CLI), its standard input fed in real time. */
export function cliRecording(seconds: number, link: LinkEmulator, token: string, direct: TrickleClient, cliJs: string, tempRoot: string): Promise<RecordingRecord> {
  return measure('cli-stdin', seconds, link, async (bytes, signal, ended) => {
    const configDir = await mkdtemp(path.join(tempRoot, 'cli-'));
    const child = spawn(process.execPath, [cliJs, 'upload', '-', '--title', 'Live', '--json'], {
      env: { PATH: process.env.PATH ?? '', TRICKLE_SERVER: link.url, TRICKLE_TOKEN: token, TRICKLE_CONFIG_DIR: configDir },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const kill = () => child.kill('SIGKILL');
    signal.addEventListener('abort', kill, { once: true });
    try {
      const stored = whenStored(direct, sha1Of(bytes), signal);
      for await (const piece of live(bytes, performance.now(), ended)) {
        if (!child.stdin.write(piece)) await new Promise((resolve) => child.stdin.once('drain', resolve));
      }
      child.stdin.end();
      const doneAt = await stored;
      const code = await exited;
      if (code !== 0) throw new Error(`trickle upload - exited ${code}: ${stderr.trim()}`);
      return doneAt;
    } finally {
      signal.removeEventListener('abort', kill);
      kill();
      await rm(configDir, { recursive: true, force: true });
    }
  });
}

/** The middle value; NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
