/**
 * One run of many uploads at once: a fresh Trickle (fdatasync on, as deployed), one
 * user, `uploads` files started together, each created and then sent in sequential
 * raw chunks. Every chunk request's latency is kept; every failed request (non-2xx or
 * network error) counts as an error, and the upload goes on with its next chunk, as a
 * client that retries later would.
 */
import { cpuProfileFor, type BenchContext } from './measure.js';
import type { ConcurrentUploadsScenario } from './scenarios.js';
import type { ManagedServer } from './server-process.js';
import type { SourceFile } from './source-file.js';
import { percentile } from './stats.js';
import { trickleTarget, type UploadTarget } from './targets.js';
import { trickleLogin } from './trickle-api.js';
import { startTrickle } from './trickle-server.js';
import { chunkOffsets, elapsedMs, uploadAgent, verifyStored } from './upload-client.js';

/** Distinct error messages kept in a record, enough to see what went wrong. */
const ERROR_SAMPLES = 5;

export interface ConcurrentUploadsRecord {
  scenario: string;
  run: number;
  uploads: number;
  size: number;
  chunkSize: number;
  /** Chunk requests sent, answered or not. */
  chunkRequests: number;
  /** Failed requests (creates and chunks), plus uploads whose stored bytes were wrong. */
  errors: number;
  errorSamples: string[];
  /** Over the answered chunk requests of this run. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** From starting the first upload to the last reply. */
  seconds: number;
  peakRssBytes: number;
  /** What stopped the run itself (the server did not start, the login failed). */
  error: string | null;
}

interface Tally {
  latenciesMs: number[];
  chunkRequests: number;
  errors: string[];
}

/** At most `limit` holders at once; the rest wait in order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.free = limit;
  }

  async take(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function oneUpload(target: UploadTarget, source: SourceFile, chunkSize: number, tally: Tally, slots: Slots): Promise<void> {
  let session;
  await slots.take();
  try {
    session = await target.begin(source.size);
  } catch (error) {
    tally.errors.push(messageOf(error));
    return;
  } finally {
    slots.give();
  }
  let failed = false;
  for (const offset of chunkOffsets(source.size, chunkSize, 'in-order')) {
    tally.chunkRequests += 1;
    // Latency counts from sending, not from waiting for a slot in the client.
    await slots.take();
    const sent = process.hrtime.bigint();
    try {
      await session.sendChunk(offset, Math.min(chunkSize, source.size - offset));
      tally.latenciesMs.push(elapsedMs(sent));
    } catch (error) {
      failed = true;
      tally.errors.push(messageOf(error));
    } finally {
      slots.give();
    }
  }
  if (failed) return;
  await verifyStored(session, source).catch((error: unknown) => tally.errors.push(messageOf(error)));
}

export async function measureConcurrentUploadsRun(scenario: ConcurrentUploadsScenario, run: number, context: BenchContext): Promise<ConcurrentUploadsRecord> {
  const record: ConcurrentUploadsRecord = {
    scenario: scenario.name,
    run,
    uploads: scenario.uploads,
    size: scenario.size,
    chunkSize: scenario.chunkSize,
    chunkRequests: 0,
    errors: 0,
    errorSamples: [],
    p50Ms: null,
    p99Ms: null,
    maxMs: null,
    seconds: 0,
    peakRssBytes: 0,
    error: null,
  };
  const source = context.sources.get(scenario.size);
  if (!source) throw new Error(`no source file of ${scenario.size} bytes`);
  let server: ManagedServer | null = null;
  // A socket per request in flight: no request waits in the agent for a free connection.
  const inFlight = scenario.inFlight ?? scenario.uploads;
  const agent = uploadAgent(inFlight);
  try {
    server = await startTrickle({
      serverJs: context.trickleJs,
      tempRoot: context.tempRoot,
      durable: true,
      maxAttachmentSize: scenario.size * 2,
      // All uploads belong to one user, who may hold only 100 open attachments by default.
      maxOpenAttachments: Math.max(1000, scenario.uploads * 2),
      // ...and declare, by default, twice the largest attachment: here all of them at once.
      env: { MAX_RESERVED_BYTES: String(scenario.uploads * scenario.size * 2) },
      cpuProfile: cpuProfileFor(context, `${scenario.name}-run${run}`),
    });
    const client = { agent, baseUrl: server.baseUrl, token: await trickleLogin(agent, server.baseUrl) };
    const target = trickleTarget(client, 'raw', source);
    const tally: Tally = { latenciesMs: [], chunkRequests: 0, errors: [] };
    const started = process.hrtime.bigint();
    const slots = new Slots(inFlight);
    await Promise.all(Array.from({ length: scenario.uploads }, () => oneUpload(target, source, scenario.chunkSize, tally, slots)));
    record.seconds = elapsedMs(started) / 1000;
    record.chunkRequests = tally.chunkRequests;
    record.errors = tally.errors.length;
    record.errorSamples = [...new Set(tally.errors)].slice(0, ERROR_SAMPLES);
    record.p50Ms = percentile(tally.latenciesMs, 50);
    record.p99Ms = percentile(tally.latenciesMs, 99);
    record.maxMs = tally.latenciesMs.length > 0 ? Math.max(...tally.latenciesMs) : null;
    record.peakRssBytes = await server.peakRssBytes();
  } catch (error) {
    record.error = messageOf(error);
  } finally {
    agent.destroy();
    await server?.stop();
  }
  return record;
}
