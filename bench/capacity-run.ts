/**
 * Capacity with small chunks (issue 27): many clients at once, each uploading a file of its own
 * in sequential small chunks (phones on bad links), to one server of each variant in turn. The
 * figure is chunk requests per CPU-second of the server process (all threads, from /proc): on a
 * 2-core machine the load generator competes with the server for the CPU, so throughput alone
 * would measure the client as much as the server. Every chunk request's latency counts; an
 * error is a failed request or wrong stored bytes. Stored bytes are checked after the timing.
 */
import { targetFor, startVariant, type BenchContext } from './measure.js';
import type { CapacityScenario, Variant } from './scenarios.js';
import type { ManagedServer } from './server-process.js';
import { percentile } from './stats.js';
import type { UploadSession } from './targets.js';
import { chunkOffsets, elapsedMs, uploadAgent, verifyStored } from './upload-client.js';

/** Distinct error messages kept in a record, enough to see what went wrong. */
const ERROR_SAMPLES = 5;
/** Stored uploads checked at once after the timing. */
const VERIFY_AT_ONCE = 16;

export interface CapacityRecord {
  scenario: string;
  server: Variant['server'];
  durable: boolean;
  run: number;
  clients: number;
  size: number;
  chunkSize: number;
  /** Chunk requests sent, answered or not. */
  chunkRequests: number;
  errors: number;
  errorSamples: string[];
  /** Server CPU seconds (all threads) from the first create to the last chunk's reply. */
  serverCpuSeconds: number;
  /** Answered chunk requests per server CPU-second. */
  requestsPerCpuSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  seconds: number;
  peakRssBytes: number;
  error: string | null;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function measureCapacityRun(scenario: CapacityScenario, variant: Variant, run: number, context: BenchContext): Promise<CapacityRecord> {
  const record: CapacityRecord = {
    scenario: scenario.name,
    server: variant.server,
    durable: variant.durable,
    run,
    clients: scenario.clients,
    size: scenario.size,
    chunkSize: scenario.chunkSize,
    chunkRequests: 0,
    errors: 0,
    errorSamples: [],
    serverCpuSeconds: 0,
    requestsPerCpuSecond: 0,
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
  // A connection per client, as phones each have their own.
  const agent = uploadAgent(scenario.clients);
  try {
    const profileName = `${scenario.name}-${variant.server}-run${run}`;
    // One user holds every upload: Trickle's limits of open attachments and of bytes declared but
    // not sent yet, per user, must allow them all.
    const settings = {
      size: scenario.size,
      profileName,
      maxOpenAttachments: Math.max(1000, scenario.clients * 2),
      trickleEnv: { MAX_RESERVED_BYTES: String(scenario.clients * scenario.size * 2) },
    };
    server = await startVariant(variant, settings, context);
    const target = await targetFor(variant, server, agent, source);
    const latenciesMs: number[] = [];
    const errors: string[] = [];
    const offsets = chunkOffsets(scenario.size, scenario.chunkSize, 'in-order');
    const client = async (): Promise<UploadSession | null> => {
      let session: UploadSession;
      try {
        session = await target.begin(source.size);
      } catch (error) {
        errors.push(messageOf(error));
        return null;
      }
      for (const offset of offsets) {
        record.chunkRequests += 1;
        const sent = process.hrtime.bigint();
        try {
          await session.sendChunk(offset, Math.min(scenario.chunkSize, source.size - offset));
          latenciesMs.push(elapsedMs(sent));
        } catch (error) {
          // tus cannot go on after a lost PATCH without asking the offset: the client gives up.
          errors.push(messageOf(error));
          return null;
        }
      }
      return session;
    };
    const cpuBefore = await server.cpuSeconds();
    const started = process.hrtime.bigint();
    const sessions = await Promise.all(Array.from({ length: scenario.clients }, client));
    record.seconds = elapsedMs(started) / 1000;
    record.serverCpuSeconds = (await server.cpuSeconds()) - cpuBefore;
    record.peakRssBytes = await server.peakRssBytes();
    // Outside the timing: every stored upload has the source's bytes.
    const done = sessions.filter((s): s is UploadSession => s !== null);
    for (let i = 0; i < done.length; i += VERIFY_AT_ONCE) {
      await Promise.all(done.slice(i, i + VERIFY_AT_ONCE).map((s) => verifyStored(s, source).catch((error: unknown) => errors.push(messageOf(error)))));
    }
    record.errors = errors.length;
    record.errorSamples = [...new Set(errors)].slice(0, ERROR_SAMPLES);
    record.requestsPerCpuSecond = record.serverCpuSeconds > 0 ? latenciesMs.length / record.serverCpuSeconds : 0;
    record.p50Ms = percentile(latenciesMs, 50);
    record.p99Ms = percentile(latenciesMs, 99);
    record.maxMs = latenciesMs.length > 0 ? Math.max(...latenciesMs) : null;
  } catch (error) {
    record.error = messageOf(error);
  } finally {
    agent.destroy();
    await server?.stop();
  }
  return record;
}
