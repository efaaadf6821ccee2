/**
 * What is measured. A throughput scenario is one upload shape, run against several
 * server variants; a clip scenario times making a clip of a big uploaded file; the
 * concurrent-uploads scenario times every chunk of many small uploads at once.
 */
import { MiB } from './options.js';
import type { ChunkOrder } from './upload-client.js';

/** trickle-tus: tus 1.0 PATCHes to Trickle's own /files/ endpoint (SPEC 7). */
/** `floor`: the bare server that also hashes and records each chunk durably, the least Trickle's promise costs. */
export type ServerName = 'trickle-raw' | 'trickle-multipart' | 'trickle-tus' | 'tus' | 'bare' | 'floor';
export type TrickleServerName = 'trickle-raw' | 'trickle-multipart' | 'trickle-tus';

export interface Variant {
  server: ServerName;
  /** Trickle DURABLE_WRITES; for the baseline, fdatasync before every reply; never for tus, which has no such setting. */
  durable: boolean;
}

export interface ThroughputScenario {
  kind: 'throughput';
  name: string;
  /** What --only matches besides the name (e.g. "rss" selects both rss scenarios). */
  group: string;
  size: number;
  chunkSize: number;
  concurrency: number;
  /** In the order they take turns within a run. */
  variants: Variant[];
}

/** Upload a WAV file to Trickle (fdatasync on, as deployed), then time POST /audio_clips from it. */
export interface ClipScenario {
  kind: 'clip';
  name: string;
  group: string;
  size: number;
  chunkSize: number;
  order: ChunkOrder;
}

/** `uploads` files of `size` bytes to one Trickle server at once, each in sequential chunks; every chunk's latency counts. */
export interface ConcurrentUploadsScenario {
  kind: 'concurrent-uploads';
  name: string;
  group: string;
  uploads: number;
  size: number;
  chunkSize: number;
  /** Most chunk requests the client has in flight at once (all uploads stay open); undefined: one per upload. */
  inFlight?: number;
}

/**
 * Issue 27: `clients` uploads at once, each its own file of `size` bytes in sequential small
 * chunks, to each variant in turn; chunk requests per server CPU-second, latency, peak RSS.
 */
export interface CapacityScenario {
  kind: 'capacity';
  name: string;
  group: string;
  clients: number;
  size: number;
  chunkSize: number;
  variants: Variant[];
}

export type Scenario = ThroughputScenario | ClipScenario | ConcurrentUploadsScenario | CapacityScenario;

export interface ScenarioSettings {
  /** The big file of the throughput and clip scenarios. */
  size: number;
  /** Clients at once in the capacity scenario. */
  clients: number;
  quick: boolean;
}

/** Trickle first, then its baseline: runs take turns so that machine noise hits both alike. */
function pair(durable: boolean, ...trickle: TrickleServerName[]): Variant[] {
  return [...trickle, 'bare' as const].map((server) => ({ server, durable }));
}

/** Trickle, the bare server and the floor (bare + SHA1 + record), all alike durable or not. */
function withFloor(durable: boolean, ...trickle: TrickleServerName[]): Variant[] {
  return [...trickle, 'bare' as const, 'floor' as const].map((server) => ({ server, durable }));
}

/**
 * Trickle, @tus/server and the baseline, all without fdatasync (the FileStore never
 * syncs). Only for sequential scenarios: tus takes one PATCH at a time per upload.
 */
function withTus(...trickle: TrickleServerName[]): Variant[] {
  return [...trickle, 'tus' as const, 'bare' as const, 'floor' as const].map((server) => ({ server, durable: false }));
}

export function allScenarios({ size, clients, quick }: ScenarioSettings): Scenario[] {
  const eight = 8 * MiB;
  const throughput = (name: string, group: string, size: number, chunkSize: number, concurrency: number, variants: Variant[]): ThroughputScenario => ({
    kind: 'throughput',
    name,
    group,
    size,
    chunkSize,
    concurrency,
    variants,
  });
  return [
    throughput('seq-8m', 'seq-8m', size, eight, 1, [...withFloor(true, 'trickle-raw', 'trickle-multipart'), ...withTus('trickle-raw', 'trickle-multipart', 'trickle-tus')]),
    throughput('conc4-8m', 'conc4-8m', size, eight, 4, [...pair(true, 'trickle-raw'), ...pair(false, 'trickle-raw')]),
    // Durable too (issue 27 compares Trickle with the bare server, both durable).
    throughput('seq-256k', 'seq-256k', size, 256 * 1024, 1, [...withFloor(true, 'trickle-raw'), ...withTus('trickle-raw', 'trickle-tus')]),
    throughput('rss-10m', 'rss', 10 * MiB, eight, 1, pair(false, 'trickle-raw')),
    throughput('rss-big', 'rss', size, eight, 1, pair(false, 'trickle-raw')),
    { kind: 'clip', name: 'clip-in-order', group: 'clip', size, chunkSize: eight, order: 'in-order' },
    { kind: 'clip', name: 'clip-shuffled', group: 'clip', size, chunkSize: eight, order: 'shuffled' },
    // Not shrunk by --quick: the count is what is being tested, and 200 MiB is quick anyway.
    { kind: 'concurrent-uploads', name: 'conc200-1m', group: 'conc200-1m', uploads: 200, size: MiB, chunkSize: 256 * 1024 },
    // 2,000 uploads open at once, their 256 KiB chunks interleaved, with at most 200 requests in flight.
    { kind: 'concurrent-uploads', name: 'conc2000-1m', group: 'conc2000-1m', uploads: 2000, size: MiB, chunkSize: 256 * 1024, inFlight: 200 },
    // Issue 27: phones on bad links. Trickle and bare durable (as deployed); @tus/server cannot sync.
    // Each client sends 16 chunks of 64 KiB (4 with --quick).
    {
      kind: 'capacity',
      name: 'capacity-64k',
      group: 'capacity',
      clients,
      size: (quick ? 4 : 16) * 64 * 1024,
      chunkSize: 64 * 1024,
      variants: [
        { server: 'trickle-raw', durable: true },
        { server: 'trickle-tus', durable: true },
        { server: 'tus', durable: false },
        { server: 'bare', durable: true },
        { server: 'floor', durable: true },
      ],
    },
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
