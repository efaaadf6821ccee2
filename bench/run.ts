/**
 * `npm run bench`: upload throughput of Trickle against a bare node:http baseline
 * and against @tus/server, the time to make a clip of a big upload, and latency with
 * many uploads at once.
 *
 * Builds the servers, makes the source files, then runs every scenario: in each
 * throughput run the variants take turns (Trickle, peers, Trickle, ...), each on a
 * fresh server process. Prints tables of medians and the targets with PASS/FAIL,
 * and writes every run to .bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBareServer, buildTrickle, buildTusServer } from './build.js';
import { measureCapacityRun, type CapacityRecord } from './capacity-run.js';
import { measureClipRun, type ClipRecord } from './clip-run.js';
import { measureConcurrentUploadsRun, type ConcurrentUploadsRecord } from './concurrent-uploads-run.js';
import { evaluateGoals } from './goals.js';
import { measureThroughputRun, type BenchContext, type ThroughputRecord } from './measure.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { describeCapacityRun, describeClipRun, describeConcurrentUploadsRun, describeThroughputRun } from './progress.js';
import { formatBytes, formatCapacityTable, formatClipTable, formatConcurrentUploadsTable, formatGoals, formatThroughputTable, writeJson } from './report.js';
import { allScenarios, selectScenarios, type Scenario } from './scenarios.js';
import { ensureSourceFile, type SourceFile } from './source-file.js';
import { summariseCapacity, summariseClips, summariseConcurrentUploads, summariseThroughput } from './stats.js';

const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const outputDir = path.join(projectRoot, '.bench');
// Source files are kept here between invocations; data folders come and go here.
const tempRoot = path.join(os.tmpdir(), 'trickle-bench');

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

function gitCommit(): string | null {
  try {
    // Read-only; the tree may also hold uncommitted changes, which are what gets built.
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** CPU seconds per GiB that SHA1 alone costs here (node:crypto, 1 MiB updates, the best of 3). */
function measureSha1Cost(): number {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  let best = Infinity;
  for (let round = 0; round < 3; round += 1) {
    const before = process.cpuUsage();
    const hash = createHash('sha1');
    for (let i = 0; i < 256; i += 1) hash.update(block);
    hash.digest();
    const used = process.cpuUsage(before);
    best = Math.min(best, ((used.user + used.system) / 1e6) * 4);
  }
  return best;
}

async function prepare(options: BenchOptions, scenarios: Scenario[]): Promise<BenchContext> {
  await mkdir(tempRoot, { recursive: true });
  // Data folders that an interrupted run left behind; the source files stay.
  for (const name of await readdir(tempRoot)) {
    if (/-data-/.test(name)) await rm(path.join(tempRoot, name), { recursive: true, force: true });
  }
  log(options.serverJs ? `Using Trickle build ${options.serverJs}` : 'Building Trickle into .bench/dist ...');
  const trickleJs = options.serverJs ? path.resolve(options.serverJs) : await buildTrickle(projectRoot, path.join(outputDir, 'dist'));
  const bareJs = await buildBareServer(projectRoot, path.join(outputDir, 'bare'));
  const tusJs = await buildTusServer(projectRoot, path.join(outputDir, 'tus'));
  const sources = new Map<number, SourceFile>();
  for (const size of new Set(scenarios.map((s) => s.size))) {
    log(`Preparing a ${formatBytes(size)} source file in ${tempRoot} ...`);
    sources.set(size, await ensureSourceFile(tempRoot, size));
  }
  let cpuProfDir: string | null = null;
  if (options.cpuProf) {
    cpuProfDir = path.join(outputDir, 'profiles');
    await mkdir(cpuProfDir, { recursive: true });
  }
  return { trickleJs, bareJs, tusJs, tempRoot, cpuProfDir, sources };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = selectScenarios(allScenarios(options), options.only);
  const context = await prepare(options, scenarios);
  if (options.cpuProf) log('Profiling Trickle: its figures are slowed down by the profiler.');
  const clientRssBeforeRuns = process.memoryUsage().rss;
  const startedAt = new Date();

  const records = { throughput: [] as ThroughputRecord[], clips: [] as ClipRecord[], concurrentUploads: [] as ConcurrentUploadsRecord[], capacity: [] as CapacityRecord[] };
  for (const scenario of scenarios) {
    for (let run = 1; run <= options.runs; run += 1) {
      if (scenario.kind === 'throughput') {
        for (const variant of scenario.variants) {
          const record = await measureThroughputRun(scenario, variant, run, context);
          records.throughput.push(record);
          log(describeThroughputRun(record));
        }
      } else if (scenario.kind === 'clip') {
        const record = await measureClipRun(scenario, run, context);
        records.clips.push(record);
        log(describeClipRun(record));
      } else if (scenario.kind === 'capacity') {
        for (const variant of scenario.variants) {
          const record = await measureCapacityRun(scenario, variant, run, context);
          records.capacity.push(record);
          log(describeCapacityRun(record));
        }
      } else {
        const record = await measureConcurrentUploadsRun(scenario, run, context);
        records.concurrentUploads.push(record);
        log(describeConcurrentUploadsRun(record));
      }
    }
  }

  const summary = {
    throughput: summariseThroughput(scenarios.flatMap((s) => (s.kind === 'throughput' ? [s] : [])), records.throughput),
    clips: summariseClips(scenarios.flatMap((s) => (s.kind === 'clip' ? [s] : [])), records.clips),
    concurrentUploads: summariseConcurrentUploads(scenarios.flatMap((s) => (s.kind === 'concurrent-uploads' ? [s] : [])), records.concurrentUploads),
    capacity: summariseCapacity(scenarios.flatMap((s) => (s.kind === 'capacity' ? [s] : [])), records.capacity),
  };
  const sha1CpuSecondsPerGiB = measureSha1Cost();
  const goals = evaluateGoals({ ...summary, sha1CpuSecondsPerGiB });
  const cpus = os.cpus();
  const results = {
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    units: {
      throughput: 'MiB/s (1 MiB = 1048576 bytes), from creating the upload to the reply to its last chunk',
      clips: 'ms from sending POST /audio_clips to its 201 reply; chunk latencies in ms',
      concurrentUploads: 'ms per chunk request, from sending it to its reply',
    },
    machine: {
      node: process.version,
      cpuModel: cpus[0]?.model ?? 'unknown',
      cpuCount: cpus.length,
      totalMemoryBytes: os.totalmem(),
      platform: `${os.platform()} ${os.release()}`,
    },
    trickle: { commit: gitCommit(), serverJs: context.trickleJs },
    options,
    sources: [...context.sources.values()].map(({ size, sha1 }) => ({ size, sha1 })),
    // The client streams every chunk from disk: its peak must not grow with the file size.
    clientRssBeforeRunsBytes: clientRssBeforeRuns,
    clientPeakRssBytes: process.resourceUsage().maxRSS * 1024,
    summary,
    sha1CpuSecondsPerGiB,
    goals,
    runs: records,
  };
  const jsonPath = path.join(outputDir, 'results.json');
  await writeJson(jsonPath, results);

  log(`\n${results.machine.cpuModel} x${results.machine.cpuCount}, Node ${process.version}, ${startedAt.toISOString()}; medians of ${options.runs} run(s).`);
  if (summary.throughput.length > 0) {
    log('\nUpload throughput in MiB/s; "vs bare", "vs tus" = medians of per-run ratios to the bare server / @tus/server.\n');
    log(formatThroughputTable(summary.throughput));
  }
  if (summary.clips.length > 0) {
    log('\nClip from a complete attachment (Trickle, fdatasync): POST /audio_clips in ms; "first clip" is a 64 KiB file on the fresh server, before the timed one.\n');
    log(formatClipTable(summary.clips));
  }
  if (summary.concurrentUploads.length > 0) {
    log('\nConcurrent uploads (Trickle, fdatasync): latency of every chunk request; errors are failed requests over all runs.\n');
    log(formatConcurrentUploadsTable(summary.concurrentUploads));
  }
  if (summary.capacity.length > 0) {
    log('\nCapacity with small chunks (issue 27): every client uploads its own file in sequential chunks, all at once; requests per CPU-second of the server process; "vs" = medians of per-run ratios.\n');
    log(formatCapacityTable(summary.capacity));
  }
  log(`\nSHA1 alone on this machine: ${sha1CpuSecondsPerGiB.toFixed(2)} CPU s/GiB.`);
  log('\nTargets (issue 17; issue 27: capacity and the 8 MiB / 256 KiB ratios; clip and RSS from issue #5):\n');
  log(formatGoals(goals));
  log(`\nClient RSS ${formatBytes(clientRssBeforeRuns)} before the runs, peak ${formatBytes(results.clientPeakRssBytes)}.`);
  log(`Every run: ${path.relative(process.cwd(), jsonPath)}`);
  const failures = [...records.throughput, ...records.clips, ...records.concurrentUploads, ...records.capacity].filter((r) => r.error !== null).length;
  if (failures > 0) log(`${failures} run(s) FAILED; see above.`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
