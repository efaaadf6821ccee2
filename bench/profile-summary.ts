/**
 * Prints where a V8 CPU profile spent its time (self time per function, and per
 * package), e.g. for the profiles `npm run bench -- --cpu-prof` leaves in .bench/profiles:
 *
 *   npx tsx bench/profile-summary.ts .bench/profiles/CPU.*.cpuprofile [--top 25]
 *
 * Several files are added up. Idle time is left out of the percentages.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script lives, short: the package for dependencies, the path inside the project otherwise. */
function place(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node core';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  return path.relative(process.cwd(), url.replace(/^file:\/\//, ''));
}

function add(map: Map<string, number>, key: string, micros: number): void {
  map.set(key, (map.get(key) ?? 0) + micros);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25;
  if (args.length === 0) throw new Error('usage: profile-summary.ts FILE.cpuprofile... [--top N]');

  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const file of args) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, i) => {
      const frame = nodes.get(id)?.callFrame;
      const micros = profile.timeDeltas[i] ?? 0;
      if (!frame || frame.functionName === '(idle)') {
        idle += micros;
        return;
      }
      busy += micros;
      const name = frame.functionName || '(anonymous)';
      add(byFunction, `${name}  ${place(frame.url)}${frame.url && !frame.url.startsWith('node:') ? `:${frame.lineNumber + 1}` : ''}`, micros);
      add(byPlace, frame.url === '' ? name : place(frame.url), micros);
    });
  }

  const print = (title: string, map: Map<string, number>, count: number) => {
    process.stdout.write(`\n${title}\n`);
    for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      process.stdout.write(`${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}\n`);
    }
  };
  process.stdout.write(`${args.length} profile(s): busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s\n`);
  print('Self time by function (% of busy time):', byFunction, top);
  print('Self time by package / file:', byPlace, 15);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
