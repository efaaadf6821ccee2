/** Presents the results: a plain-text table for people, a JSON file for later comparison. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Summary } from './stats.js';

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

const SERVER_LABEL: Record<Summary['server'], string> = {
  'trickle-raw': 'trickle raw',
  'trickle-multipart': 'trickle multipart',
  tus: '@tus/server',
  bare: 'bare node:http',
};

export function formatTable(rows: readonly Summary[]): string {
  const header = ['scenario', 'server', 'durability', 'size', 'chunk', 'conc', 'MiB/s (median)', 'min-max', 'vs bare', 'vs tus', 'peak RSS', 'runs'];
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
    row.ratioVsTus === null ? '' : row.ratioVsTus.toFixed(2),
    row.peakRssBytes === null ? '-' : formatBytes(row.peakRssBytes),
    row.failures > 0 ? `${row.runs - row.failures}/${row.runs}` : String(row.runs),
  ]);
  const numeric = new Set([5, 6, 7, 8, 9, 10, 11]);
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

export async function writeJson(filePath: string, data: unknown): Promise<void> {
  await mkdir(path.dirname(filePath), { recursive: true });
  await writeFile(filePath, `${JSON.stringify(data, null, 2)}\n`);
}
