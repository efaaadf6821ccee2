/** One line per finished run, printed as the benchmark goes so a long run shows where it is. */
import type { CapacityRecord } from './capacity-run.js';
import type { ClipRecord } from './clip-run.js';
import type { ConcurrentUploadsRecord } from './concurrent-uploads-run.js';
import type { ThroughputRecord } from './measure.js';
import { formatBytes } from './report.js';

export function describeThroughputRun(record: ThroughputRecord): string {
  const what = `${record.scenario} run ${record.run} ${record.server} ${record.durable ? 'fdatasync' : 'no sync'}`;
  if (record.error !== null) return `${what}: FAILED: ${record.error}`;
  return `${what}: ${record.mibPerSecond.toFixed(1)} MiB/s (${record.seconds.toFixed(2)} s, ${record.requests} requests), server CPU ${record.serverCpuSeconds.toFixed(2)} s, peak RSS ${formatBytes(record.peakRssBytes)}`;
}

export function describeClipRun(record: ClipRecord): string {
  const what = `${record.scenario} run ${record.run}`;
  if (record.error !== null) return `${what}: FAILED: ${record.error}`;
  const completion = record.completeInLastReply ? 'complete in the last reply' : `complete ${record.completeAfterMs.toFixed(1)} ms after the last reply`;
  return (
    `${what}: uploaded ${formatBytes(record.size)} in ${record.uploadSeconds.toFixed(2)} s (chunks ${record.medianChunkMs.toFixed(1)} ms, ` +
    `last ${record.lastChunkMs.toFixed(1)} ms, ${completion}); first clip ${record.firstClipMs.toFixed(1)} ms, clip ${record.clipMs.toFixed(1)} ms`
  );
}

export function describeConcurrentUploadsRun(record: ConcurrentUploadsRecord): string {
  const what = `${record.scenario} run ${record.run}`;
  if (record.error !== null) return `${what}: FAILED: ${record.error}`;
  const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1));
  const errors = record.errors === 0 ? 'no errors' : `${record.errors} errors (${record.errorSamples.join('; ')})`;
  return (
    `${what}: ${record.uploads} x ${formatBytes(record.size)} in ${record.seconds.toFixed(2)} s, ${record.chunkRequests} chunk requests, ` +
    `p50 ${ms(record.p50Ms)} ms, p99 ${ms(record.p99Ms)} ms, max ${ms(record.maxMs)} ms, ${errors}, server peak RSS ${formatBytes(record.peakRssBytes)}`
  );
}

export function describeCapacityRun(record: CapacityRecord): string {
  const what = `${record.scenario} run ${record.run} ${record.server} ${record.durable ? 'fdatasync' : 'no sync'}`;
  if (record.error !== null) return `${what}: FAILED: ${record.error}`;
  const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1));
  const errors = record.errors === 0 ? 'no errors' : `${record.errors} errors (${record.errorSamples.join('; ')})`;
  return (
    `${what}: ${record.clients} clients, ${record.chunkRequests} chunk requests in ${record.seconds.toFixed(2)} s, server CPU ${record.serverCpuSeconds.toFixed(2)} s ` +
    `= ${record.requestsPerCpuSecond.toFixed(0)} per CPU-s, p50 ${ms(record.p50Ms)} ms, p99 ${ms(record.p99Ms)} ms, ${errors}, peak RSS ${formatBytes(record.peakRssBytes)}`
  );
}
