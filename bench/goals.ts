/**
 * The performance targets of issue 17 (and issue #5's clip and RSS ones), checked against the summaries. (Called goals
 * here because targets.ts already names the servers an upload is sent to.) A goal
 * whose scenario was not run, or failed every run, is "not measured" rather than failed.
 */
import { formatBytes } from './report.js';
import type { CapacitySummary, ClipSummary, ConcurrentUploadsSummary, ThroughputSummary } from './stats.js';

export type Verdict = 'PASS' | 'FAIL' | 'not measured';

export interface GoalResult {
  goal: string;
  measured: string;
  verdict: Verdict;
}

export interface Summaries {
  throughput: readonly ThroughputSummary[];
  clips: readonly ClipSummary[];
  concurrentUploads: readonly ConcurrentUploadsSummary[];
  capacity?: readonly CapacitySummary[];
  /** CPU seconds SHA1 alone takes per GiB on this machine, measured in the same run. */
  sha1CpuSecondsPerGiB?: number | null;
}

/** 150 MB in the target's own unit (decimal), the stricter reading. */
const RSS_LIMIT_BYTES = 150e6;

function verdict(value: number | null | undefined, pass: (value: number) => boolean): Verdict {
  if (value === null || value === undefined) return 'not measured';
  return pass(value) ? 'PASS' : 'FAIL';
}

function row(summaries: Summaries, scenario: string, server: ThroughputSummary['server'], durable: boolean): ThroughputSummary | undefined {
  return summaries.throughput.find((r) => r.scenario === scenario && r.server === server && r.durable === durable && r.mibPerSecond !== null);
}

function ratioGoal(
  summaries: Summaries,
  scenario: string,
  server: 'trickle-raw' | 'trickle-multipart' | 'trickle-tus',
  durable: boolean,
  peer: 'bare' | 'tus' | 'raw',
  minimum: number,
): GoalResult {
  const found = row(summaries, scenario, server, durable);
  const ratio = { bare: found?.ratioVsBare, tus: found?.ratioVsTus, raw: found?.ratioVsRaw }[peer];
  // What the floor (bare + SHA1 + record, same runs) reaches against the same peer, where it ran.
  const floor = row(summaries, scenario, 'floor', durable);
  const floorRatio = peer === 'raw' ? undefined : { bare: floor?.ratioVsBare, tus: floor?.ratioVsTus }[peer];
  const who = { 'trickle-raw': 'raw', 'trickle-multipart': 'multipart', 'trickle-tus': 'tus PATCH to Trickle' }[server];
  const peerName = { bare: 'bare node:http', tus: '@tus/server', raw: 'Trickle raw' }[peer];
  return {
    goal: `${who} >= ${minimum.toFixed(2)}x ${peerName}, ${scenario}, ${durable ? 'both fdatasync' : 'both no sync'}`,
    measured: ratio === null || ratio === undefined ? '-' : `${ratio.toFixed(2)}x${floorRatio == null ? '' : ` (floor ${floorRatio.toFixed(2)}x)`}`,
    verdict: verdict(ratio, (r) => r >= minimum),
  };
}

/** Server CPU per GiB of Trickle raw within the bare server's plus SHA1's, plus 15%. */
function cpuGoal(summaries: Summaries, scenario: string): GoalResult {
  const trickle = row(summaries, scenario, 'trickle-raw', false)?.serverCpuSecondsPerGiB;
  const bare = row(summaries, scenario, 'bare', false)?.serverCpuSecondsPerGiB;
  const sha1 = summaries.sha1CpuSecondsPerGiB;
  const limit = bare !== null && bare !== undefined && sha1 !== null && sha1 !== undefined ? (bare + sha1) * 1.15 : null;
  return {
    goal: `server CPU s/GiB <= (bare + SHA1 alone) x 1.15, ${scenario}, no sync`,
    measured: limit === null || trickle === null || trickle === undefined ? '-' : `${trickle.toFixed(2)} vs (${bare!.toFixed(2)} + ${sha1!.toFixed(2)}) x 1.15 = ${limit.toFixed(2)}`,
    verdict: limit === null ? 'not measured' : verdict(trickle, (v) => v <= limit),
  };
}

function rssGoals(summaries: Summaries): GoalResult[] {
  const small = row(summaries, 'rss-10m', 'trickle-raw', false);
  const big = row(summaries, 'rss-big', 'trickle-raw', false);
  const smallRss = small?.peakRssBytes ?? null;
  const bigRss = big?.peakRssBytes ?? null;
  const both = smallRss !== null && bigRss !== null;
  const highest = both ? Math.max(smallRss, bigRss) : null;
  const growth = both ? Math.abs(bigRss - smallRss) / smallRss : null;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
  return [
    {
      goal: 'peak server RSS < 150 MB (10 MiB and big upload)',
      measured: highest === null ? '-' : mb(highest),
      verdict: verdict(highest, (v) => v < RSS_LIMIT_BYTES),
    },
    {
      goal: `peak RSS within 10% between 10 MiB and ${big ? formatBytes(big.size) : 'big'} uploads`,
      measured: growth === null ? '-' : `${mb(smallRss!)} vs ${mb(bigRss!)} (${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%)`,
      verdict: verdict(growth, (g) => g <= 0.1),
    },
  ];
}

/** Issue 27, for each Trickle row of the capacity scenario. */
function capacityGoals(rows: readonly CapacitySummary[]): GoalResult[] {
  // The floor's own figures (bare + SHA1 + record), where it ran.
  const floor = rows.find((r) => r.server === 'floor');
  const floorNote = (value: number | null | undefined, text: (v: number) => string) => (value == null ? '' : ` (floor ${text(value)})`);
  return rows
    .filter((r) => r.server === 'trickle-raw' || r.server === 'trickle-tus')
    .flatMap((r) => {
      const who = `${r.server === 'trickle-raw' ? 'raw' : 'tus PATCH to Trickle'}, ${r.clients} clients, ${formatBytes(r.chunkSize)} chunks`;
      const measured = r.failures < r.runs;
      const spread = measured && r.p50Ms && r.p99Ms !== null ? r.p99Ms / r.p50Ms : null;
      return [
        {
          goal: `${who}: chunk requests per server CPU-s >= 1.50x @tus/server`,
          measured: r.ratioVsTus === null ? '-' : `${r.ratioVsTus.toFixed(2)}x${floorNote(floor?.ratioVsTus, (v) => `${v.toFixed(2)}x`)}`,
          verdict: verdict(r.ratioVsTus, (x) => x >= 1.5),
        },
        {
          goal: `${who}: p99 <= 3x p50, no errors`,
          measured: spread === null ? '-' : `${r.p99Ms!.toFixed(0)} / ${r.p50Ms!.toFixed(0)} ms = ${spread.toFixed(2)}x, ${r.errors} errors`,
          verdict: spread === null ? 'not measured' : spread <= 3 && r.errors === 0 && r.failures === 0 ? 'PASS' : 'FAIL',
        },
        {
          goal: `${who}: server peak RSS <= 200 MiB`,
          measured: r.peakRssBytes === null ? '-' : `${formatBytes(r.peakRssBytes)}${floorNote(floor?.peakRssBytes, formatBytes)}`,
          verdict: verdict(r.peakRssBytes, (b) => b <= 200 * 1024 * 1024),
        },
      ];
    });
}

export function evaluateGoals(summaries: Summaries): GoalResult[] {
  const clip = summaries.clips.find((c) => c.order === 'in-order');
  const concurrent = summaries.concurrentUploads.map((c) => ({ ...c, measured: c.failures < c.runs ? c : undefined }));
  return [
    // Issue 17. "At 8 MiB" is the sequential scenario (conc4-8m is reported, not held to it).
    ratioGoal(summaries, 'seq-8m', 'trickle-raw', false, 'tus', 1.1),
    ratioGoal(summaries, 'seq-8m', 'trickle-raw', true, 'bare', 0.9),
    ratioGoal(summaries, 'seq-256k', 'trickle-raw', false, 'tus', 2.0),
    // Issue 27.
    ratioGoal(summaries, 'seq-8m', 'trickle-raw', true, 'bare', 1.0),
    ratioGoal(summaries, 'seq-8m', 'trickle-raw', false, 'tus', 1.2),
    ratioGoal(summaries, 'seq-256k', 'trickle-raw', true, 'bare', 0.9),
    ...[true, false].map((durable) => ratioGoal(summaries, 'seq-8m', 'trickle-multipart', durable, 'raw', 0.85)),
    ratioGoal(summaries, 'seq-8m', 'trickle-tus', false, 'tus', 1.0),
    ratioGoal(summaries, 'seq-256k', 'trickle-tus', false, 'tus', 1.0),
    cpuGoal(summaries, 'seq-8m'),
    cpuGoal(summaries, 'seq-256k'),
    ...concurrent.flatMap((c) => {
      const m = c.measured;
      const ratio = m && m.p50Ms !== null && m.p99Ms !== null ? m.p99Ms / m.p50Ms : null;
      return [
        {
          goal: `no errors at ${c.uploads} concurrent uploads`,
          // A run that could not be carried out counts against the goal too.
          measured: m ? `${m.errors} errors in ${m.chunkRequests} chunk requests${m.failures > 0 ? `, ${m.failures} run(s) failed` : ''}` : '-',
          verdict: verdict(m ? m.errors + m.failures : null, (n) => n === 0),
        },
        {
          goal: `p99 chunk latency <= 3x p50 at ${c.uploads} concurrent uploads`,
          measured: ratio === null ? '-' : `${m!.p99Ms!.toFixed(0)} / ${m!.p50Ms!.toFixed(0)} ms = ${ratio.toFixed(2)}x`,
          verdict: verdict(ratio, (r) => r <= 3),
        },
        {
          goal: `server peak RSS < 300 MiB at ${c.uploads} concurrent uploads`,
          measured: m?.peakRssBytes === null || m === undefined ? '-' : formatBytes(m.peakRssBytes),
          verdict: verdict(m?.peakRssBytes, (b) => b < 300 * 1024 * 1024),
        },
      ];
    }),
    ...capacityGoals(summaries.capacity ?? []),
    // Kept from issue #5.
    {
      goal: `clip from a complete in-order ${clip ? formatBytes(clip.size) : 'big'} attachment < 50 ms`,
      measured: clip?.clipMs === null || clip === undefined ? '-' : `${clip.clipMs.toFixed(1)} ms`,
      verdict: verdict(clip?.clipMs, (ms) => ms < 50),
    },
    ...rssGoals(summaries),
  ];
}
