/**
 * `npm run bench`: upload throughput of Trickle against a bare node:http baseline
 * and against @tus/server.
 *
 * Builds both servers, makes the source files, then runs every scenario: in each
 * run the variants take turns (Trickle, baseline, Trickle, ...), each on a fresh
 * server process. Prints a table of medians and writes every run to .bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBareServer, buildTrickle, buildTusServer } from './build.js';
import { measureRun, type BenchContext, type RunRecord } from './measure.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { formatBytes, formatTable, writeJson } from './report.js';
import { allScenarios, selectScenarios, type Scenario } from './scenarios.js';
import { ensureSourceFile, type SourceFile } from './source-file.js';
import { summarise } from './stats.js';

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

function describe(record: RunRecord): string {
  const what = `${record.scenario} run ${record.run} ${record.server} ${record.durable ? 'fdatasync' : 'no sync'}`;
  if (record.error !== null) return `${what}: FAILED: ${record.error}`;
  return `${what}: ${record.mibPerSecond.toFixed(1)} MiB/s (${record.seconds.toFixed(2)} s, ${record.requests} requests), server peak RSS ${formatBytes(record.peakRssBytes)}`;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = selectScenarios(allScenarios(options.size), options.only);
  const context = await prepare(options, scenarios);
  if (options.cpuProf) log('Profiling Trickle: its figures are slowed down by the profiler.');
  const clientRssBeforeRuns = process.memoryUsage().rss;
  const startedAt = new Date();

  const records: RunRecord[] = [];
  for (const scenario of scenarios) {
    for (let run = 1; run <= options.runs; run += 1) {
      for (const variant of scenario.variants) {
        const record = await measureRun(scenario, variant, run, context);
        records.push(record);
        log(describe(record));
      }
    }
  }

  const rows = summarise(scenarios, records);
  const cpus = os.cpus();
  const results = {
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    unit: 'MiB/s (1 MiB = 1048576 bytes), from creating the upload to the reply to its last chunk',
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
    summary: rows,
    runs: records,
  };
  const jsonPath = path.join(outputDir, 'results.json');
  await writeJson(jsonPath, results);

  log(`\nUpload throughput in MiB/s, median of ${options.runs} run(s); "vs bare", "vs tus" = medians of per-run ratios to the bare server / @tus/server.`);
  log(`${results.machine.cpuModel} x${results.machine.cpuCount}, Node ${process.version}, ${startedAt.toISOString()}\n`);
  log(formatTable(rows));
  log(`\nClient RSS ${formatBytes(clientRssBeforeRuns)} before the runs, peak ${formatBytes(results.clientPeakRssBytes)}.`);
  log(`Every run: ${path.relative(process.cwd(), jsonPath)}`);
  const failures = records.filter((r) => r.error !== null).length;
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
