/** What is measured: each scenario is one upload shape, run against several server variants. */
import { MiB } from './options.js';

export type ServerName = 'trickle-raw' | 'trickle-multipart' | 'tus' | 'bare';

export interface Variant {
  server: ServerName;
  /** Trickle DURABLE_WRITES; for the baseline, fdatasync before every reply; never for tus, which has no such setting. */
  durable: boolean;
}

export interface Scenario {
  name: string;
  /** What --only matches besides the name (e.g. "rss" selects both rss scenarios). */
  group: string;
  size: number;
  chunkSize: number;
  concurrency: number;
  /** In the order they take turns within a run. */
  variants: Variant[];
}

/** Trickle first, then its baseline: runs take turns so that machine noise hits both alike. */
function pair(durable: boolean, ...trickle: Array<'trickle-raw' | 'trickle-multipart'>): Variant[] {
  return [...trickle, 'bare' as const].map((server) => ({ server, durable }));
}

/**
 * Trickle, @tus/server and the baseline, all without fdatasync (the FileStore never
 * syncs). Only for sequential scenarios: tus takes one PATCH at a time per upload.
 */
function withTus(...trickle: Array<'trickle-raw' | 'trickle-multipart'>): Variant[] {
  return [...trickle, 'tus' as const, 'bare' as const].map((server) => ({ server, durable: false }));
}

export function allScenarios(size: number): Scenario[] {
  const eight = 8 * MiB;
  return [
    { name: 'seq-8m', group: 'seq-8m', size, chunkSize: eight, concurrency: 1, variants: [...pair(true, 'trickle-raw', 'trickle-multipart'), ...withTus('trickle-raw', 'trickle-multipart')] },
    { name: 'conc4-8m', group: 'conc4-8m', size, chunkSize: eight, concurrency: 4, variants: [...pair(true, 'trickle-raw'), ...pair(false, 'trickle-raw')] },
    { name: 'seq-256k', group: 'seq-256k', size, chunkSize: 256 * 1024, concurrency: 1, variants: withTus('trickle-raw') },
    { name: 'rss-10m', group: 'rss', size: 10 * MiB, chunkSize: eight, concurrency: 1, variants: pair(false, 'trickle-raw') },
    { name: 'rss-big', group: 'rss', size, chunkSize: eight, concurrency: 1, variants: pair(false, 'trickle-raw') },
  ];
}

export function selectScenarios(scenarios: Scenario[], only: string[]): Scenario[] {
  if (only.length === 0) return scenarios;
  const unknown = only.filter((name) => !scenarios.some((s) => s.name === name || s.group === name));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${[...new Set(scenarios.flatMap((s) => [s.group, s.name]))].join(', ')}`);
  }
  return scenarios.filter((s) => only.includes(s.name) || only.includes(s.group));
}
