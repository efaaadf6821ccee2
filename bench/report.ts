/** Presents the results: a plain-text table for people, a JSON file for later comparison. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GoalResult } from './goals.js';
import type { CapacitySummary, ClipSummary, ConcurrentUploadsSummary, ThroughputSummary } from './stats.js';

export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 ** 3, 'GiB'],
    [1024 ** 2, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [unit, name] of units) {
    if (bytes >= unit) {
      const value = bytes / unit;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} B`;
}

/** Columns padded to their widest cell; the numeric ones right-aligned. */
export function formatColumns(header: string[], body: string[][], numeric: ReadonlySet<number>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

const ms = (value: number | null) => (value === null ? '-' : value.toFixed(1));

const runsCell = (runs: number, failures: number) => (failures > 0 ? `${runs - failures}/${runs}` : String(runs));

const SERVER_LABEL: Record<ThroughputSummary['server'], string> = {
  'trickle-raw': 'trickle raw',
  'trickle-multipart': 'trickle multipart',
  'trickle-tus': 'trickle tus PATCH',
  tus: '@tus/server',
  bare: 'bare node:http',
  floor: 'floor (bare+SHA1+record)',
};

export function formatThroughputTable(rows: readonly ThroughputSummary[]): string {
  const header = ['scenario', 'server', 'durability', 'size', 'chunk', 'conc', 'MiB/s (median)', 'min-max', 'vs bare', 'vs floor', 'vs tus', 'vs raw', 'server CPU s/GiB', 'peak RSS', 'runs'];
  const body = rows.map((row) => [
    row.scenario,
    SERVER_LABEL[row.server],
    row.durable ? 'fdatasync' : 'no sync',
    formatBytes(row.size),
    formatBytes(row.chunkSize),
    String(row.concurrency),
    row.mibPerSecond ? row.mibPerSecond.median.toFixed(1) : 'FAILED',
    row.mibPerSecond ? `${row.mibPerSecond.min.toFixed(0)}-${row.mibPerSecond.max.toFixed(0)}` : '',
    row.ratioVsBare === null ? (row.server === 'bare' ? '1.00' : '-') : row.ratioVsBare.toFixed(2),
    row.ratioVsFloor === null ? '' : row.ratioVsFloor.toFixed(2),
    row.ratioVsTus === null ? '' : row.ratioVsTus.toFixed(2),
    row.ratioVsRaw === null ? '' : row.ratioVsRaw.toFixed(2),
    row.serverCpuSecondsPerGiB === null ? '-' : row.serverCpuSecondsPerGiB.toFixed(2),
    row.peakRssBytes === null ? '-' : formatBytes(row.peakRssBytes),
    runsCell(row.runs, row.failures),
  ]);
  return formatColumns(header, body, new Set([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]));
}

export function formatClipTable(rows: readonly ClipSummary[]): string {
  const header = ['scenario', 'chunk order', 'size', 'chunk', 'upload MiB/s', 'chunk ms', 'last chunk ms', 'complete after', 'first clip ms', 'clip ms', 'runs'];
  const body = rows.map((row) => {
    const good = row.runs - row.failures;
    const completeAfter =
      good === 0 ? '-' : row.completeInLastReply === good ? 'in last reply' : `${ms(row.completeAfterMs)} ms (${good - row.completeInLastReply}/${good} runs)`;
    return [
      row.scenario,
      row.order,
      formatBytes(row.size),
      formatBytes(row.chunkSize),
      row.uploadMibPerSecond === null ? 'FAILED' : row.uploadMibPerSecond.toFixed(1),
      ms(row.medianChunkMs),
      ms(row.lastChunkMs),
      completeAfter,
      ms(row.firstClipMs),
      ms(row.clipMs),
      runsCell(row.runs, row.failures),
    ];
  });
  return formatColumns(header, body, new Set([4, 5, 6, 7, 8, 9, 10]));
}

export function formatConcurrentUploadsTable(rows: readonly ConcurrentUploadsSummary[]): string {
  const header = ['scenario', 'uploads', 'in flight', 'file', 'chunk', 'chunk requests', 'errors', 'p50 ms', 'p99 ms', 'max ms', 'MiB/s', 'peak RSS', 'runs'];
  const body = rows.map((row) => [
    row.scenario,
    String(row.uploads),
    String(row.inFlight ?? row.uploads),
    formatBytes(row.size),
    formatBytes(row.chunkSize),
    String(row.chunkRequests),
    String(row.errors),
    ms(row.p50Ms),
    ms(row.p99Ms),
    ms(row.maxMs),
    row.mibPerSecond === null ? 'FAILED' : row.mibPerSecond.toFixed(1),
    row.peakRssBytes === null ? '-' : formatBytes(row.peakRssBytes),
    runsCell(row.runs, row.failures),
  ]);
  const table = formatColumns(header, body, new Set([1, 2, 5, 6, 7, 8, 9, 10, 11, 12]));
  const samples = rows.flatMap((row) => row.errorSamples.map((message) => `  ${row.scenario}: ${message}`));
  return samples.length > 0 ? `${table}\nErrors seen:\n${samples.join('\n')}` : table;
}

export function formatCapacityTable(rows: readonly CapacitySummary[]): string {
  const header = ['scenario', 'server', 'durability', 'clients', 'chunk', 'chunk requests', 'errors', 'req per CPU-s', 'vs tus', 'vs bare', 'vs floor', 'p50 ms', 'p99 ms', 'p99/p50', 'max ms', 'peak RSS', 'runs'];
  const body = rows.map((row) => [
    row.scenario,
    SERVER_LABEL[row.server],
    row.durable ? 'fdatasync' : 'no sync',
    String(row.clients),
    formatBytes(row.chunkSize),
    String(row.chunkRequests),
    String(row.errors),
    row.requestsPerCpuSecond === null ? 'FAILED' : row.requestsPerCpuSecond.toFixed(0),
    row.ratioVsTus === null ? (row.server === 'tus' ? '1.00' : '-') : row.ratioVsTus.toFixed(2),
    row.ratioVsBare === null ? (row.server === 'bare' ? '1.00' : '-') : row.ratioVsBare.toFixed(2),
    row.ratioVsFloor === null ? '' : row.ratioVsFloor.toFixed(2),
    ms(row.p50Ms),
    ms(row.p99Ms),
    row.p50Ms && row.p99Ms !== null ? (row.p99Ms / row.p50Ms).toFixed(2) : '-',
    ms(row.maxMs),
    row.peakRssBytes === null ? '-' : formatBytes(row.peakRssBytes),
    runsCell(row.runs, row.failures),
  ]);
  const table = formatColumns(header, body, new Set([3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
  const samples = rows.flatMap((row) => row.errorSamples.map((message) => `  ${row.scenario} ${SERVER_LABEL[row.server]}: ${message}`));
  return samples.length > 0 ? `${table}\nErrors seen:\n${samples.join('\n')}` : table;
}

export function formatGoals(results: readonly GoalResult[]): string {
  return formatColumns(
    ['target', 'measured', 'verdict'],
    results.map((r) => [r.goal, r.measured, r.verdict]),
    new Set(),
  );
}

export async function writeJson(filePath: string, data: unknown): Promise<void> {
  await mkdir(path.dirname(filePath), { recursive: true });
  await writeFile(filePath, `${JSON.stringify(data, null, 2)}\n`);
}
