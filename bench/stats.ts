/** Turns individual runs into the reported figures. */
import type { RunRecord } from './measure.js';
import type { Scenario, Variant } from './scenarios.js';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Summary {
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
  /** The same, against @tus/server (no sync) in the same run; for Trickle rows of scenarios that have a tus variant. */
  ratioVsTus: number | null;
  peakRssBytes: number | null;
}

const ok = (r: RunRecord) => r.error === null;

/**
 * Median over runs of record/peer, each record paired with the peer's successful
 * record of the same scenario, durability and run.
 */
function pairedRatio(records: readonly RunRecord[], mine: readonly RunRecord[], peer: Variant['server']): number | null {
  const ratios = mine.flatMap((r) => {
    const base = records.find((b) => ok(b) && b.scenario === r.scenario && b.server === peer && b.durable === r.durable && b.run === r.run);
    return base ? [r.mibPerSecond / base.mibPerSecond] : [];
  });
  return median(ratios);
}

const isTrickle = (server: Variant['server']) => server === 'trickle-raw' || server === 'trickle-multipart';

export function summarise(scenarios: readonly Scenario[], records: readonly RunRecord[]): Summary[] {
  return scenarios.flatMap((scenario) =>
    scenario.variants.map((variant): Summary => {
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
        ratioVsTus: isTrickle(variant.server) ? pairedRatio(records, good, 'tus') : null,
        peakRssBytes: median(good.map((r) => r.peakRssBytes)),
      };
    }),
  );
}
