/**
 * One clip run: a fresh Trickle (fdatasync on, as deployed) receives a big WAV file in
 * chunks, in file order or shuffled, then POST /audio_clips makes a clip of it. The
 * clip takes the attachment's bytes in place, so its time should not grow with the file.
 */
import { createHash } from 'node:crypto';
import { bufferBody } from './http-client.js';
import { cpuProfileFor, type BenchContext } from './measure.js';
import type { ClipScenario } from './scenarios.js';
import type { ManagedServer } from './server-process.js';
import { wavBytes } from './source-file.js';
import { median } from './stats.js';
import { trickleTarget } from './targets.js';
import { createAttachment, createClipFromAttachment, trickleLogin, waitUntilComplete, type TrickleClient } from './trickle-api.js';
import { startTrickle } from './trickle-server.js';
import { elapsedMs, sendChunks, uploadAgent, type ChunkOrder } from './upload-client.js';

/** The small file of the first clip a fresh server makes, which pays for loading the audio prober. */
const WARM_UP_BYTES = 64 * 1024;

export interface ClipRecord {
  scenario: string;
  order: ChunkOrder;
  run: number;
  size: number;
  chunkSize: number;
  uploadSeconds: number;
  medianChunkMs: number;
  /** Latency of the chunk whose reply came last: it closed the last gap (and, out of order, waited for the rest of the file to be hashed). */
  lastChunkMs: number;
  /** Whether that reply already said the attachment is complete, with its SHA1. */
  completeInLastReply: boolean;
  /** From the last chunk's reply until GET /attachments/:id said complete with the SHA1; 0 when the reply itself said so. */
  completeAfterMs: number;
  /** The first clip this server process makes (of a 64 KiB WAV file): it includes loading the audio prober. */
  firstClipMs: number;
  /** The clip of the big file, made right after the first one. */
  clipMs: number;
  peakRssBytes: number;
  error: string | null;
}

/** Times one clip made from a complete attachment; checks that the clip holds the expected bytes. */
async function timeClip(client: TrickleClient, attachmentId: number, sha1: string): Promise<number> {
  const started = process.hrtime.bigint();
  const clipSha1 = await createClipFromAttachment(client, attachmentId, sha1);
  const ms = elapsedMs(started);
  if (clipSha1 !== sha1) throw new Error(`the clip's audio has SHA1 ${clipSha1}, expected ${sha1}`);
  return ms;
}

export async function measureClipRun(scenario: ClipScenario, run: number, context: BenchContext): Promise<ClipRecord> {
  const record: ClipRecord = {
    scenario: scenario.name,
    order: scenario.order,
    run,
    size: scenario.size,
    chunkSize: scenario.chunkSize,
    uploadSeconds: 0,
    medianChunkMs: 0,
    lastChunkMs: 0,
    completeInLastReply: false,
    completeAfterMs: 0,
    firstClipMs: 0,
    clipMs: 0,
    peakRssBytes: 0,
    error: null,
  };
  const source = context.sources.get(scenario.size);
  if (!source) throw new Error(`no source file of ${scenario.size} bytes`);
  let server: ManagedServer | null = null;
  const agent = uploadAgent(1);
  try {
    server = await startTrickle({
      serverJs: context.trickleJs,
      tempRoot: context.tempRoot,
      durable: true,
      maxAttachmentSize: scenario.size * 2,
      cpuProfile: cpuProfileFor(context, `${scenario.name}-run${run}`),
    });
    const client = { agent, baseUrl: server.baseUrl, token: await trickleLogin(agent, server.baseUrl) };

    const started = process.hrtime.bigint();
    const session = await trickleTarget(client, 'raw', source).begin(scenario.size);
    const chunks = await sendChunks(session, { size: scenario.size, chunkSize: scenario.chunkSize, concurrency: 1, order: scenario.order });
    const lastReplyAt = process.hrtime.bigint();
    record.uploadSeconds = elapsedMs(started) / 1000;
    record.medianChunkMs = median(chunks.latenciesMs) ?? 0;
    record.lastChunkMs = chunks.latenciesMs.at(-1) ?? 0;
    record.completeInLastReply = session.completedInReply();
    const sha1 = await waitUntilComplete(client, session.attachmentId);
    record.completeAfterMs = record.completeInLastReply ? 0 : elapsedMs(lastReplyAt);
    if (sha1 !== source.sha1) throw new Error(`uploaded bytes do not match: server has SHA1 ${sha1}, source is ${source.sha1}`);

    const small = wavBytes(WARM_UP_BYTES);
    const smallSha1 = createHash('sha1').update(small).digest('hex');
    const warmUp = await createAttachment(client, small.length, bufferBody(small));
    await waitUntilComplete(client, warmUp.id);
    record.firstClipMs = await timeClip(client, warmUp.id, smallSha1);
    record.clipMs = await timeClip(client, session.attachmentId, sha1);
    record.peakRssBytes = await server.peakRssBytes();
  } catch (error) {
    record.error = error instanceof Error ? error.message : String(error);
  } finally {
    agent.destroy();
    await server?.stop();
  }
  return record;
}
