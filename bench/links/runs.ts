/**
 * One transfer over the emulated link per run: the Trickle SDK's upload, tus-js-client against
 * Trickle's /files/ and against @tus/server, and the SDK's download. Each run starts the link
 * afresh (time 0 of its outage schedule), has a cut-off, and is checked byte for byte (SHA1)
 * on the server's side, never through the link.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tus from 'tus-js-client';
import { downloadFile, TrickleClient, upload } from '../../src/client/node.js';
import { idealTransferMs, type LinkEmulator } from '../../test/helpers/link-emulator.js';

export type LinkClient = 'sdk' | 'tus-trickle' | 'tus-tusd' | 'sdk-download';

export const CLIENT_LABEL: Record<LinkClient, string> = {
  sdk: 'Trickle SDK upload()',
  'tus-trickle': 'tus-js-client -> Trickle /files/',
  'tus-tusd': 'tus-js-client -> @tus/server',
  'sdk-download': 'Trickle SDK download',
};

export interface LinkRecord {
  scenario: string;
  client: LinkClient;
  ok: boolean;
  /** Why it failed (the error, or the cut-off), else null. */
  error: string | null;
  ms: number;
  idealMs: number;
  fileBytes: number;
  /** Bytes the client pushed into the uplink (uploads) or the server into the downlink (downloads), lost ones included. */
  linkBytes: number;
  /** Link events during the run. */
  resets: number;
  silenced: number;
}

export interface RunTarget {
  scenario: string;
  link: LinkEmulator;
  bytes: Buffer;
  sha1: string;
}

/** tus-js-client's retries: quick at first, then every few seconds, for minutes (it starts over after progress). */
export const TUS_RETRY_DELAYS = [0, 250, 500, 1000, 1000, 2000, 2000, ...Array.from({ length: 60 }, () => 3000)];
const TUS_CHUNK = 512 * 1024;

export const sha1Of = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');

/** Long enough for a client that is merely slow, short enough that a hung one does not hold the bench up. */
function cutOffMs(idealMs: number): number {
  return idealMs * 2.5 + 15_000;
}

/**
 * Runs `transfer` on a fresh link with a cut-off; `verify` then checks the result on the
 * server's side. The record says how long it took against the ideal, and what the link carried.
 */
async function measure(
  target: RunTarget,
  client: LinkClient,
  direction: 'up' | 'down',
  transfer: (signal: AbortSignal) => Promise<void>,
): Promise<LinkRecord> {
  const { link, bytes } = target;
  const { profile } = link;
  const rate = direction === 'up' ? profile.upBytesPerSecond : profile.downBytesPerSecond;
  const idealMs = idealTransferMs(bytes.length, rate, profile.outages);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new Error(`cut off after ${(cutOffMs(idealMs) / 1000).toFixed(0)} s`)), cutOffMs(idealMs));
  link.restart();
  const started = performance.now();
  let error: string | null = null;
  try {
    await transfer(stop.signal);
  } catch (caught) {
    error = stop.signal.aborted ? String((stop.signal.reason as Error).message) : caught instanceof Error ? caught.message : String(caught);
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  const stats = link.stats;
  return {
    scenario: target.scenario,
    client,
    ok: error === null,
    error,
    ms,
    idealMs,
    fileBytes: bytes.length,
    linkBytes: direction === 'up' ? stats.upBytes : stats.downBytes,
    resets: stats.resets,
    silenced: stats.silenced,
  };
}

/** With LINKS_TRACE=1, the SDK's retries and acknowledgements go to stderr, timed from the upload's start. */
function traceLog(): ((line: string) => void) | undefined {
  if (!process.env.LINKS_TRACE) return undefined;
  const started = performance.now();
  return (line) => process.stderr.write(`${((performance.now() - started) / 1000).toFixed(2)} s ${line}\n`);
}

export function sdkUpload(target: RunTarget, token: string, direct: TrickleClient): Promise<LinkRecord> {
  return measure(target, 'sdk', 'up', async (signal) => {
    const trace = traceLog();
    const result = await upload(target.bytes, {
      server: target.link.url,
      token,
      filename: 'bench.wav',
      state: false,
      signal,
      onRetry: trace && ((error, delayMs) => trace(`retry in ${delayMs} ms: ${String(error)}`)),
      onChunkAcknowledged: trace && (([start, end]) => trace(`acknowledged ${start}-${end}`)),
    });
    const stored = await direct.attachment(result.attachmentId);
    if (stored.sha1 !== target.sha1 || result.fingerprint !== target.sha1) throw new Error(`SHA1 ${stored.sha1} on the server, ${target.sha1} sent`);
  });
}

/** Runs tus-js-client to its end; resolves the upload's URL. */
function tusUpload(bytes: Buffer, endpoint: string, headers: Record<string, string>, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const task = new tus.Upload(bytes, {
      endpoint,
      chunkSize: TUS_CHUNK,
      retryDelays: TUS_RETRY_DELAYS,
      headers,
      metadata: { filename: 'bench.wav', filetype: 'audio/wav' },
      onError: reject,
      onSuccess: () => resolve(task.url!),
    });
    signal.addEventListener('abort', () => {
      void task.abort();
      reject(signal.reason);
    });
    task.start();
  });
}

export function tusToTrickle(target: RunTarget, token: string, direct: TrickleClient): Promise<LinkRecord> {
  return measure(target, 'tus-trickle', 'up', async (signal) => {
    const url = await tusUpload(target.bytes, `${target.link.url}/files/`, { Authorization: `Bearer ${token}` }, signal);
    const id = Number(/\/files\/(\d+)$/.exec(url)?.[1]);
    const stored = await direct.attachment(id);
    if (stored.sha1 !== target.sha1) throw new Error(`SHA1 ${stored.sha1} on the server, ${target.sha1} sent`);
  });
}

export function tusToTusServer(target: RunTarget, dataDir: string): Promise<LinkRecord> {
  return measure(target, 'tus-tusd', 'up', async (signal) => {
    const url = await tusUpload(target.bytes, `${target.link.url}/files`, {}, signal);
    const id = url.slice(url.lastIndexOf('/') + 1);
    const stored = sha1Of(await readFile(path.join(dataDir, 'files', id)));
    if (stored !== target.sha1) throw new Error(`SHA1 ${stored} on the server, ${target.sha1} sent`);
  });
}

/**
 * One small transfer of each kind straight to the servers (not through a link) before any run
 * is timed: the first requests of a process (and of a server) pay for loading and compiling
 * code, which no run should be charged for.
 */
export async function warmUp(servers: { trickle: string; tus: string }, token: string): Promise<void> {
  const bytes = Buffer.alloc(64 * 1024, 7);
  await upload(bytes, { server: servers.trickle, token, state: false });
  await tusUpload(bytes, `${servers.trickle}/files/`, { Authorization: `Bearer ${token}` }, new AbortController().signal);
  await tusUpload(bytes, `${servers.tus}/files`, {}, new AbortController().signal);
}

/** The SDK's download of a clip's audio (`audioPath`) over the link, to a file in `dir`. */
export function sdkDownload(target: RunTarget, audioPath: string, dir: string): Promise<LinkRecord> {
  return measure(target, 'sdk-download', 'down', async (signal) => {
    const client = new TrickleClient({ server: target.link.url });
    const file = path.join(dir, `download-${target.scenario}.wav`);
    await rm(file, { force: true });
    const { sha1 } = await downloadFile(client, audioPath, file, { signal, expectedSha1: target.sha1 });
    const stored = sha1Of(await readFile(file));
    await rm(file, { force: true });
    if (sha1 !== target.sha1 || stored !== target.sha1) throw new Error(`downloaded SHA1 ${stored}, the file's is ${target.sha1}`);
  });
}
