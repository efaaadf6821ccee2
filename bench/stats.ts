/** Turns individual runs into the reported figures. */
import type { CapacityRecord } from './capacity-run.js';
import type { ClipRecord } from './clip-run.js';
import type { ConcurrentUploadsRecord } from './concurrent-uploads-run.js';
import type { ThroughputRecord } from './measure.js';
import type { CapacityScenario, ClipScenario, ConcurrentUploadsScenario, ThroughputScenario, Variant } from './scenarios.js';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The nearest-rank percentile (p in 0..100): a value that was actually measured. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface ThroughputSummary {
  scenario: string;
  server: Variant['server'];
  durable: boolean;
  size: number;
  chunkSize: number;
  concurrency: number;
  runs: number;
  failures: number;
  /** MiB/s over the successful runs. */
  mibPerSecond: { median: number; min: number; max: number } | null;
  /**
   * Median over runs of (this run's MiB/s / the baseline's MiB/s in the same run),
   * the baseline being the bare server with the same durability in the same scenario.
   * Pairing within a run cancels out slow phases of a noisy machine better than
   * dividing two medians would.
   */
  ratioVsBare: number | null;
  /** Against the floor (bare + SHA1 + record) in the same runs. */
  ratioVsFloor: number | null;
  /** The same, against @tus/server (no sync) in the same run; for Trickle rows of scenarios that have a tus variant. */
  ratioVsTus: number | null;
  peakRssBytes: number | null;
  /** Median server CPU seconds per run: on a 2-core machine shared with the client, CPU bounds throughput. */
  serverCpuSeconds: number | null;
  /** The same per GiB uploaded. */
  serverCpuSecondsPerGiB: number | null;
  /** For Trickle's multipart and tus rows: median of per-run ratios to Trickle raw with the same durability. */
  ratioVsRaw: number | null;
}

const ok = (r: { error: string | null }) => r.error === null;

/**
 * Median over runs of record/peer, each record paired with the peer's successful
 * record of the same scenario, durability and run.
 */
function pairedRatio(records: readonly ThroughputRecord[], mine: readonly ThroughputRecord[], peer: Variant['server']): number | null {
  const ratios = mine.flatMap((r) => {
    const base = records.find((b) => ok(b) && b.scenario === r.scenario && b.server === peer && b.durable === r.durable && b.run === r.run);
    return base ? [r.mibPerSecond / base.mibPerSecond] : [];
  });
  return median(ratios);
}

const isTrickle = (server: Variant['server']) => server === 'trickle-raw' || server === 'trickle-multipart' || server === 'trickle-tus';

export function summariseThroughput(scenarios: readonly ThroughputScenario[], records: readonly ThroughputRecord[]): ThroughputSummary[] {
  return scenarios.flatMap((scenario) =>
    scenario.variants.map((variant): ThroughputSummary => {
      const mine = records.filter((r) => r.scenario === scenario.name && r.server === variant.server && r.durable === variant.durable);
      const good = mine.filter(ok);
      const speeds = good.map((r) => r.mibPerSecond);
      return {
        scenario: scenario.name,
        server: variant.server,
        durable: variant.durable,
        size: scenario.size,
        chunkSize: scenario.chunkSize,
        concurrency: scenario.concurrency,
        runs: mine.length,
        failures: mine.length - good.length,
        mibPerSecond: speeds.length > 0 ? { median: median(speeds)!, min: Math.min(...speeds), max: Math.max(...speeds) } : null,
        ratioVsBare: variant.server === 'bare' ? null : pairedRatio(records, good, 'bare'),
        ratioVsFloor: isTrickle(variant.server) ? pairedRatio(records, good, 'floor') : null,
        // The floor's own ratio to @tus/server is what any server keeping Trickle's promise could reach.
        ratioVsTus: isTrickle(variant.server) || variant.server === 'floor' ? pairedRatio(records, good, 'tus') : null,
        peakRssBytes: median(good.map((r) => r.peakRssBytes)),
        serverCpuSeconds: median(good.map((r) => r.serverCpuSeconds)),
        serverCpuSecondsPerGiB: median(good.map((r) => (r.serverCpuSeconds * 1024 ** 3) / r.size)),
        ratioVsRaw: isTrickle(variant.server) && variant.server !== 'trickle-raw' ? pairedRatio(records, good, 'trickle-raw') : null,
      };
    }),
  );
}

export interface ClipSummary {
  scenario: string;
  order: ClipRecord['order'];
  size: number;
  chunkSize: number;
  runs: number;
  failures: number;
  /** Medians over the successful runs, in ms (upload in MiB/s). */
  uploadMibPerSecond: number | null;
  medianChunkMs: number | null;
  lastChunkMs: number | null;
  /** How many successful runs had the attachment complete, with its SHA1, in the last chunk's reply. */
  completeInLastReply: number;
  completeAfterMs: number | null;
  firstClipMs: number | null;
  clipMs: number | null;
}

export function summariseClips(scenarios: readonly ClipScenario[], records: readonly ClipRecord[]): ClipSummary[] {
  return scenarios.map((scenario) => {
    const mine = records.filter((r) => r.scenario === scenario.name);
    const good = mine.filter(ok);
    const of = (pick: (r: ClipRecord) => number) => median(good.map(pick));
    return {
      scenario: scenario.name,
      order: scenario.order,
      size: scenario.size,
      chunkSize: scenario.chunkSize,
      runs: mine.length,
      failures: mine.length - good.length,
      uploadMibPerSecond: of((r) => r.size / (1024 * 1024) / r.uploadSeconds),
      medianChunkMs: of((r) => r.medianChunkMs),
      lastChunkMs: of((r) => r.lastChunkMs),
      completeInLastReply: good.filter((r) => r.completeInLastReply).length,
      completeAfterMs: of((r) => r.completeAfterMs),
      firstClipMs: of((r) => r.firstClipMs),
      clipMs: of((r) => r.clipMs),
    };
  });
}

export interface ConcurrentUploadsSummary {
  scenario: string;
  uploads: number;
  size: number;
  chunkSize: number;
  runs: number;
  /** Runs that could not be carried out at all (not the same as requests that failed). */
  failures: number;
  /** Over all runs. */
  chunkRequests: number;
  errors: number;
  errorSamples: string[];
  /** Medians over runs of each run's percentiles. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** All the uploads' bytes over the time from the first create to the last reply. */
  mibPerSecond: number | null;
  peakRssBytes: number | null;
  inFlight: number | null;
}

export function summariseConcurrentUploads(scenarios: readonly ConcurrentUploadsScenario[], records: readonly ConcurrentUploadsRecord[]): ConcurrentUploadsSummary[] {
  return scenarios.map((scenario) => {
    const mine = records.filter((r) => r.scenario === scenario.name);
    const good = mine.filter(ok);
    const of = (pick: (r: ConcurrentUploadsRecord) => number | null) => median(good.flatMap((r) => pick(r) ?? []));
    return {
      scenario: scenario.name,
      uploads: scenario.uploads,
      size: scenario.size,
      chunkSize: scenario.chunkSize,
      runs: mine.length,
      failures: mine.length - good.length,
      chunkRequests: good.reduce((sum, r) => sum + r.chunkRequests, 0),
      errors: good.reduce((sum, r) => sum + r.errors, 0),
      errorSamples: [...new Set(good.flatMap((r) => r.errorSamples))].slice(0, 5),
      p50Ms: of((r) => r.p50Ms),
      p99Ms: of((r) => r.p99Ms),
      maxMs: of((r) => r.maxMs),
      mibPerSecond: of((r) => (r.uploads * r.size) / (1024 * 1024) / r.seconds),
      peakRssBytes: of((r) => r.peakRssBytes),
      inFlight: scenario.inFlight ?? null,
    };
  });
}

export interface CapacitySummary {
  scenario: string;
  server: Variant['server'];
  durable: boolean;
  clients: number;
  size: number;
  chunkSize: number;
  runs: number;
  failures: number;
  /** Over all successful runs. */
  chunkRequests: number;
  errors: number;
  errorSamples: string[];
  /** Medians over runs. */
  requestsPerCpuSecond: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  peakRssBytes: number | null;
  /** Medians of per-run ratios of requests per CPU-second to @tus/server's and the bare server's in the same run. */
  ratioVsTus: number | null;
  ratioVsBare: number | null;
  /** Against the floor (bare + SHA1 + record) in the same runs. */
  ratioVsFloor: number | null;
}

export function summariseCapacity(scenarios: readonly CapacityScenario[], records: readonly CapacityRecord[]): CapacitySummary[] {
  return scenarios.flatMap((scenario) =>
    scenario.variants.map((variant): CapacitySummary => {
      const mine = records.filter((r) => r.scenario === scenario.name && r.server === variant.server);
      const good = mine.filter(ok);
      const of = (pick: (r: CapacityRecord) => number | null) => median(good.flatMap((r) => pick(r) ?? []));
      const ratioTo = (peer: Variant['server']) =>
        variant.server === peer
          ? null
          : median(
              good.flatMap((r) => {
                const base = records.find((b) => ok(b) && b.scenario === r.scenario && b.server === peer && b.run === r.run);
                return base && base.requestsPerCpuSecond > 0 ? [r.requestsPerCpuSecond / base.requestsPerCpuSecond] : [];
              }),
            );
      return {
        scenario: scenario.name,
        server: variant.server,
        durable: variant.durable,
        clients: scenario.clients,
        size: scenario.size,
        chunkSize: scenario.chunkSize,
        runs: mine.length,
        failures: mine.length - good.length,
        chunkRequests: good.reduce((sum, r) => sum + r.chunkRequests, 0),
        errors: good.reduce((sum, r) => sum + r.errors, 0),
        errorSamples: [...new Set(good.flatMap((r) => r.errorSamples))].slice(0, 5),
        requestsPerCpuSecond: of((r) => r.requestsPerCpuSecond),
        p50Ms: of((r) => r.p50Ms),
        p99Ms: of((r) => r.p99Ms),
        maxMs: of((r) => r.maxMs),
        peakRssBytes: of((r) => r.peakRssBytes),
        ratioVsTus: ratioTo('tus'),
        ratioVsBare: ratioTo('bare'),
        ratioVsFloor: isTrickle(variant.server) ? ratioTo('floor') : null,
      };
    }),
  );
}
