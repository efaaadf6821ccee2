/** One measured throughput run: a fresh server process, one timed upload, its peak RSS, then clean up. */
import type http from 'node:http';
import { startBare } from './bare-server.js';
import type { ThroughputScenario, Variant } from './scenarios.js';
import type { ManagedServer } from './server-process.js';
import type { SourceFile } from './source-file.js';
import { bareTarget, trickleTarget, trickleTusTarget, tusTarget, type UploadTarget } from './targets.js';
import { trickleLogin } from './trickle-api.js';
import { startTrickle } from './trickle-server.js';
import { startTus } from './tus-server.js';
import { runUpload, uploadAgent } from './upload-client.js';

export interface BenchContext {
  trickleJs: string;
  bareJs: string;
  tusJs: string;
  /** Where servers' data folders are made (and deleted). */
  tempRoot: string;
  cpuProfDir: string | null;
  /** Source files by size. */
  sources: Map<number, SourceFile>;
}

/** Where to write a V8 CPU profile of one Trickle process, if profiling. */
export function cpuProfileFor(context: BenchContext, name: string): { dir: string; name: string } | null {
  return context.cpuProfDir ? { dir: context.cpuProfDir, name: `${name}.cpuprofile` } : null;
}

export interface ThroughputRecord {
  scenario: string;
  server: Variant['server'];
  durable: boolean;
  run: number;
  size: number;
  chunkSize: number;
  concurrency: number;
  requests: number;
  seconds: number;
  mibPerSecond: number;
  /** Peak RSS (VmHWM) of the server process, which served only this upload. */
  peakRssBytes: number;
  /** CPU seconds the server process (all threads) used from creating the upload to verifying it. */
  serverCpuSeconds: number;
  error: string | null;
}

export interface VariantSettings {
  /** Largest upload the run makes: Trickle's MAX_ATTACHMENT_SIZE is set comfortably above it, so the limit never decides anything. */
  size: number;
  /** Name of the CPU profile, if profiling. */
  profileName: string;
  /** Trickle's MAX_OPEN_ATTACHMENTS, for runs with many uploads of one user at once. */
  maxOpenAttachments?: number;
  /** More settings for Trickle's environment. */
  trickleEnv?: Record<string, string>;
}

/** A fresh server process of the variant, with an empty data folder. */
export function startVariant(variant: Variant, settings: VariantSettings, context: BenchContext): Promise<ManagedServer> {
  if (variant.server === 'bare' || variant.server === 'floor') {
    return startBare({ programJs: context.bareJs, durable: variant.durable, tempRoot: context.tempRoot, record: variant.server === 'floor' });
  }
  if (variant.server === 'tus') return startTus({ programJs: context.tusJs, tempRoot: context.tempRoot });
  return startTrickle({
    serverJs: context.trickleJs,
    durable: variant.durable,
    maxAttachmentSize: settings.size * 2,
    tempRoot: context.tempRoot,
    cpuProfile: cpuProfileFor(context, settings.profileName),
    ...(settings.maxOpenAttachments !== undefined ? { maxOpenAttachments: settings.maxOpenAttachments } : {}),
    ...(settings.trickleEnv ? { env: settings.trickleEnv } : {}),
  });
}

/** How the variant's server is spoken to (logging in first, for Trickle). */
export async function targetFor(variant: Variant, server: ManagedServer, agent: http.Agent, source: SourceFile): Promise<UploadTarget> {
  if (variant.server === 'bare' || variant.server === 'floor') return bareTarget(agent, server.baseUrl, server.dataDir, source);
  if (variant.server === 'tus') return tusTarget(agent, server.baseUrl, server.dataDir, source);
  const client = { agent, baseUrl: server.baseUrl, token: await trickleLogin(agent, server.baseUrl) };
  return variant.server === 'trickle-tus' ? trickleTusTarget(client, source) : trickleTarget(client, variant.server === 'trickle-raw' ? 'raw' : 'multipart', source);
}

export async function measureThroughputRun(scenario: ThroughputScenario, variant: Variant, run: number, context: BenchContext): Promise<ThroughputRecord> {
  const record: ThroughputRecord = {
    scenario: scenario.name,
    server: variant.server,
    durable: variant.durable,
    run,
    size: scenario.size,
    chunkSize: scenario.chunkSize,
    concurrency: scenario.concurrency,
    requests: 0,
    seconds: 0,
    mibPerSecond: 0,
    peakRssBytes: 0,
    serverCpuSeconds: 0,
    error: null,
  };
  const source = context.sources.get(scenario.size);
  if (!source) throw new Error(`no source file of ${scenario.size} bytes`);
  let server: ManagedServer | null = null;
  const agent = uploadAgent(scenario.concurrency);
  try {
    const profileName = `${scenario.name}-${variant.server}-${variant.durable ? 'fdatasync' : 'nosync'}-run${run}`;
    server = await startVariant(variant, { size: scenario.size, profileName }, context);
    const target = await targetFor(variant, server, agent, source);
    const cpuBefore = await server.cpuSeconds();
    const timing = await runUpload(target, source, { size: scenario.size, chunkSize: scenario.chunkSize, concurrency: scenario.concurrency });
    record.requests = timing.requests;
    record.seconds = timing.seconds;
    record.mibPerSecond = timing.bytes / (1024 * 1024) / timing.seconds;
    record.serverCpuSeconds = (await server.cpuSeconds()) - cpuBefore;
    record.peakRssBytes = await server.peakRssBytes();
  } catch (error) {
    // A failed run is reported, not fatal: a long benchmark should still deliver the rest.
    record.error = error instanceof Error ? error.message : String(error);
  } finally {
    agent.destroy();
    await server?.stop();
  }
  return record;
}
