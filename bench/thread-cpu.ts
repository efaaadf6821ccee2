/**
 * Where a server's CPU time goes, per thread: starts one server of the bench (already
 * built by `npm run bench`, in .bench/), uploads the big source file once, and prints the
 * CPU seconds of every thread of the server process (from /proc/<pid>/task/<tid>/stat),
 * grouped by thread name, per GiB uploaded. With --strace, the upload runs under
 * `strace -c -f` attached to the server, and the syscall counts are printed (strace slows the
 * server down: read the counts, not the speed).
 *
 * With --clients N, N clients at once each upload a file of --size of their own in sequential
 * chunks (the capacity scenario's load), and the CPU is also given per chunk request.
 *
 *   npx tsx bench/thread-cpu.ts trickle-raw|trickle-multipart|trickle-tus|tus|bare|floor [--sync] [--chunk 256k] [--size 128m] [--clients N] [--runs N] [--cpu-prof] [--server-js PATH] [--bare-js PATH] [--strace]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBare } from './bare-server.js';
import { MiB } from './options.js';
import type { ManagedServer } from './server-process.js';
import { ensureSourceFile } from './source-file.js';
import { bareTarget, trickleTarget, trickleTusTarget, tusTarget, type UploadTarget } from './targets.js';
import { trickleLogin } from './trickle-api.js';
import { startTrickle } from './trickle-server.js';
import { startTus } from './tus-server.js';
import { chunkOffsets, elapsedMs, runUpload, uploadAgent } from './upload-client.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const tempRoot = path.join(os.tmpdir(), 'trickle-bench');

function sizeArg(raw: string): number {
  const m = /^([0-9]+)([kmg]?)$/i.exec(raw);
  if (!m) throw new Error(`bad size ${raw}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2]!.toLowerCase()] ?? 1);
}

async function threadTimes(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${name}#${tid}`, (Number(fields[11]) + Number(fields[12])) / 100);
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const server = args[0] ?? 'trickle-raw';
  const durable = args.includes('--sync');
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : fallback;
  };
  const chunkSize = sizeArg(opt('--chunk', '8m'));
  const size = sizeArg(opt('--size', '128m'));
  const runs = Number(opt('--runs', '1'));
  const clients = Number(opt('--clients', '0'));
  const source = await ensureSourceFile(tempRoot, size);
  for (let run = 0; run < runs; run += 1) {
    let proc: ManagedServer;
    if (server === 'bare' || server === 'floor') proc = await startBare({ programJs: path.resolve(opt('--bare-js', path.join(root, '.bench/bare/bare-server-program.js'))), durable, record: server === 'floor', tempRoot });
    else if (server === 'tus') proc = await startTus({ programJs: path.join(root, '.bench/tus/tus-server-program.js'), tempRoot });
    else proc = await startTrickle({ serverJs: path.resolve(opt('--server-js', path.join(root, '.bench/dist/server.js'))), durable, maxAttachmentSize: size * 2, tempRoot, maxOpenAttachments: Math.max(1000, clients * 2), env: { MAX_RESERVED_BYTES: String(Math.max(1, clients) * size * 2) }, cpuProfile: args.includes('--cpu-prof') ? { dir: path.join(root, '.bench/profiles'), name: `threads-${server}-${run}.cpuprofile` } : null });
    const agent = uploadAgent(Math.max(1, clients));
    try {
      let target: UploadTarget;
      if (server === 'bare' || server === 'floor') target = bareTarget(agent, proc.baseUrl, proc.dataDir, source);
      else if (server === 'tus') target = tusTarget(agent, proc.baseUrl, proc.dataDir, source);
      else {
        const client = { agent, baseUrl: proc.baseUrl, token: await trickleLogin(agent, proc.baseUrl) };
        target = server === 'trickle-tus' ? trickleTusTarget(client, source) : trickleTarget(client, server === 'trickle-raw' ? 'raw' : 'multipart', source);
      }
      let tracer: ChildProcess | null = null;
      let traced = '';
      if (args.includes('--strace')) {
        tracer = spawn('strace', ['-c', '-f', '-p', String(proc.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
        tracer.stderr!.on('data', (data: Buffer) => (traced += data.toString()));
        await sleep(1000);
      }
      const before = await threadTimes(proc.pid);
      const started = process.hrtime.bigint();
      let requests = 0;
      if (clients > 0) {
        const offsets = chunkOffsets(size, chunkSize, 'in-order');
        await Promise.all(
          Array.from({ length: clients }, async () => {
            const session = await target.begin(size);
            for (const offset of offsets) {
              await session.sendChunk(offset, Math.min(chunkSize, size - offset));
              requests += 1;
            }
          }),
        );
      } else await runUpload(target, source, { size, chunkSize, concurrency: 1 });
      const seconds = elapsedMs(started) / 1000;
      const uploaded = size * Math.max(1, clients);
      const after = await threadTimes(proc.pid);
      if (tracer) {
        const exited = new Promise((resolve) => tracer.once('exit', resolve));
        tracer.kill('SIGINT');
        await exited;
        console.log(traced.split('\n').slice(0, 40).join('\n'));
      }
      const groups = new Map<string, number>();
      for (const [key, value] of after) {
        const name = key.split('#')[0]!;
        groups.set(name, (groups.get(name) ?? 0) + value - (before.get(key) ?? 0));
      }
      const perGiB = (s: number) => ((s * 1024 * MiB) / uploaded).toFixed(2);
      const total = [...groups.values()].reduce((a, b) => a + b, 0);
      const parts = [...groups].sort((a, b) => b[1] - a[1]).map(([n, s]) => `${n} ${perGiB(s)}`);
      console.log(`${server} ${durable ? 'sync' : 'nosync'} chunk ${chunkSize}: ${(uploaded / MiB / seconds).toFixed(1)} MiB/s, CPU s/GiB total ${perGiB(total)}: ${parts.join(', ')}`);
      if (requests > 0) {
        const perRequest = (s: number) => ((s * 1e6) / requests).toFixed(0);
        const byThread = [...groups].sort((a, b) => b[1] - a[1]).map(([n, s]) => `${n} ${perRequest(s)}`);
        console.log(`  ${requests} chunk requests, ${(requests / total).toFixed(0)} per CPU-s; CPU µs per request ${perRequest(total)}: ${byThread.join(', ')}; peak RSS ${((await proc.peakRssBytes()) / MiB).toFixed(1)} MiB`);
      }
    } finally {
      agent.destroy();
      await proc.stop();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
