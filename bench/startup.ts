/**
 * `npm run bench:startup`: how long a built Trickle takes from `node server.js` to its first
 * `/readyz` 200, and how much memory it holds once idle, against the floors on the same
 * machine in the same run: an empty Node process that answers HTTP (`node -e`), and the bare
 * node:http upload server of `npm run bench`. Every build and floor takes turns in each
 * repetition; the figures are medians. Each build is measured twice per repetition: its first
 * start, which creates the database and runs every migration, and a restart on that data.
 *
 *   npm run bench:startup                                   src/ built into .bench/dist
 *   npm run bench:startup -- --runs 9
 *   npm run bench:startup -- --build before=.bench/before/server.js --build after=.bench/dist/server.js
 *   npm run bench:startup -- --modules                      which packages each build loads by ready
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBareServer, buildTrickle } from './build.js';
import { formatColumns } from './report.js';
import { freePort, readPeakRss } from './server-process.js';
import { median } from './stats.js';

const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const outputDir = path.join(projectRoot, '.bench');

/** The least a Node process that answers HTTP can be: the floor of start time and idle RSS. */
const EMPTY_NODE = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')`;

/** Records the first load of every package (and of the program's own files) with its time since start. */
const MODULE_HOOK = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Map();
registerHooks({ load(url, context, next) {
  const pkg = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url);
  const key = pkg ? pkg[1] : url.startsWith('node:') ? null : 'trickle (own files)';
  if (key && !seen.has(key)) seen.set(key, performance.now());
  return next(url, context);
} });
process.on('SIGTERM', () => { writeFileSync(process.env.MODULES_OUT, JSON.stringify([...seen])); process.exit(0); });
`;

interface Subject {
  label: string;
  args: string[];
  env: (dataDir: string) => Record<string, string>;
  readyPath: string;
  /** Also measured restarting on the data its first start made. */
  restarts?: boolean;
}

interface Sample {
  label: string;
  readyMs: number;
  idleRssBytes: number;
  peakRssBytes: number;
}

function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

async function readRss(pid: number): Promise<number> {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Starts the subject, polls its ready path every 5 ms, waits `idleMs`, reads its memory, stops it.
 * With `keptDataDir`, it starts on that folder (a restart: the database exists, its migrations
 * ran) and leaves it; otherwise on a fresh one, removed afterwards.
 */
async function sample(subject: Subject, tempRoot: string, idleMs: number, modulesOut: string | null, keptDataDir?: string, label = subject.label): Promise<Sample> {
  const dataDir = keptDataDir ?? (await mkdtemp(path.join(tempRoot, 'startup-data-')));
  const port = await freePort();
  const hook = modulesOut ? ['--import', `data:text/javascript,${encodeURIComponent(MODULE_HOOK)}`] : [];
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...hook, ...subject.args], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...subject.env(dataDir), ...(modulesOut ? { MODULES_OUT: modulesOut } : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 60_000;
    while ((await status(`http://127.0.0.1:${port}${subject.readyPath}`)) !== 200) {
      if (child.exitCode !== null) throw new Error(`${subject.label} exited with ${child.exitCode} before it was ready`);
      if (Date.now() > deadline) throw new Error(`${subject.label} was not ready within 60 s`);
      await sleep(5);
    }
    const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
    await sleep(idleMs);
    const pid = child.pid!;
    return { label, readyMs, idleRssBytes: await readRss(pid), peakRssBytes: await readPeakRss(pid) };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    if (!keptDataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

function trickleSubject(label: string, serverJs: string): Subject {
  return {
    label,
    // As `npm start` runs it.
    args: ['--max-semi-space-size=1', serverJs],
    env: (dataDir) => ({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2' }),
    readyPath: '/readyz',
    restarts: true,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '7' },
      build: { type: 'string', multiple: true, default: [] },
      idle: { type: 'string', default: '1500' },
      modules: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run bench:startup -- [--runs N] [--build LABEL=SERVER_JS]... [--idle MS] [--modules]\n');
    return;
  }
  const runs = Number(values.runs);
  const idleMs = Number(values.idle);
  const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
  await mkdir(tempRoot, { recursive: true });
  const builds = values.build.map((spec) => {
    const [label, file] = spec.split(/=(.*)/s, 2) as [string, string | undefined];
    if (!file) throw new Error(`--build ${spec}: expected LABEL=SERVER_JS`);
    return trickleSubject(label, path.resolve(file));
  });
  if (builds.length === 0) builds.push(trickleSubject('trickle', await buildTrickle(projectRoot, path.join(outputDir, 'dist'))));
  const bareJs = await buildBareServer(projectRoot, path.join(outputDir, 'bare'));
  const subjects: Subject[] = [
    { label: 'empty node -e', args: ['-e', EMPTY_NODE], env: () => ({}), readyPath: '/' },
    { label: 'bare node:http', args: [bareJs], env: (dataDir) => ({ DATA_DIR: dataDir }), readyPath: '/healthz' },
    ...builds,
  ];

  if (values.modules) {
    for (const build of builds) {
      const out = path.join(tempRoot, `modules-${process.pid}.json`);
      await sample(build, tempRoot, 200, out);
      const loaded = JSON.parse(await readFile(out, 'utf8')) as Array<[string, number]>;
      await rm(out, { force: true });
      process.stdout.write(`\n${build.label}: ${loaded.length} packages loaded by ready (ms since start, under the hook):\n`);
      process.stdout.write(`${loaded.map(([name, ms]) => `  ${ms.toFixed(0).padStart(6)}  ${name}`).join('\n')}\n`);
    }
  }

  const samples: Sample[] = [];
  const report = (run: number, s: Sample) => {
    samples.push(s);
    process.stdout.write(`run ${run}  ${s.label.padEnd(24)} ready ${s.readyMs.toFixed(0).padStart(5)} ms  idle RSS ${(s.idleRssBytes / 2 ** 20).toFixed(1)} MiB\n`);
  };
  for (let run = 1; run <= runs; run += 1) {
    for (const subject of subjects) {
      if (!subject.restarts) {
        report(run, await sample(subject, tempRoot, idleMs, null));
        continue;
      }
      // The first start creates the database and runs every migration; a restart finds them done.
      const dataDir = await mkdtemp(path.join(tempRoot, 'startup-data-'));
      try {
        report(run, await sample(subject, tempRoot, idleMs, null, dataDir));
        report(run, await sample(subject, tempRoot, idleMs, null, dataDir, `${subject.label} (restart)`));
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  }
  const mib = (bytes: number | null) => (bytes === null ? '-' : (bytes / 2 ** 20).toFixed(1));
  const labels = subjects.flatMap((subject) => (subject.restarts ? [subject.label, `${subject.label} (restart)`] : [subject.label]));
  const rows = labels.map((label) => {
    const mine = samples.filter((s) => s.label === label);
    return {
      label,
      readyMs: median(mine.map((s) => s.readyMs)),
      idleRss: median(mine.map((s) => s.idleRssBytes)),
      peakRss: median(mine.map((s) => s.peakRssBytes)),
      range: `${Math.min(...mine.map((s) => s.readyMs)).toFixed(0)}-${Math.max(...mine.map((s) => s.readyMs)).toFixed(0)}`,
    };
  });
  const [load1] = os.loadavg();
  process.stdout.write(`\nNode ${process.version}, ${os.cpus().length} CPUs, load average ${load1!.toFixed(1)} at the end; medians of ${runs} runs.\n\n`);
  process.stdout.write(
    `${formatColumns(
      ['process', 'start to ready ms', 'min-max', 'idle RSS MiB', 'peak RSS MiB'],
      rows.map((r) => [r.label, r.readyMs === null ? '-' : r.readyMs.toFixed(0), r.range, mib(r.idleRss), mib(r.peakRss)]),
      new Set([1, 2, 3, 4]),
    )}\n`,
  );
  await writeFile(path.join(outputDir, 'startup.json'), `${JSON.stringify({ date: new Date().toISOString(), loadAverage: os.loadavg(), runs, samples, rows }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:startup: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
