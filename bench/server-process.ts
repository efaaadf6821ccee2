/**
 * Runs a server under test as a child process: own event loop (so it does not
 * share a thread with the client) and own /proc entry (so its peak RSS can be read).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServerProcess {
  readonly pid: number;
  readonly baseUrl: string;
  /** VmHWM: the most resident memory the process ever had. Read it before stop(). */
  peakRssBytes(): Promise<number>;
  /** CPU time the process has used so far, user + system, all its threads (a hash worker too). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  healthPath: string;
}

/** A port nobody listens on right now (the OS picks it; the race until the child binds is harmless here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function healthStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    // agent: false: the health probe must not leave a kept-alive socket behind.
    const request = http.get(url, { agent: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function readPeakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every common Linux, asked once in case it is not. */
let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim();
    clockTicks = answer && /^[0-9]+$/.test(answer) ? Number(answer) : 100;
  }
  return clockTicks;
}

export async function readCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, options.args, {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  // Keep the tail of stderr to explain a server that dies on start.
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString()).slice(-4000);
    process.stderr.write(data);
  });
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 30_000;
  while ((await healthStatus(baseUrl + options.healthPath)) !== 200) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited before it was healthy (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not answer ${options.healthPath} within 30 s:\n${stderr}`);
    }
    await sleep(50);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name} has no pid`);

  return {
    pid,
    baseUrl,
    peakRssBytes: () => readPeakRss(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited(child);
      clearTimeout(killer);
    },
  };
}

export interface ManagedServer extends ServerProcess {
  /** The server's own fresh data folder; deleted by stop() so the disk does not fill. */
  readonly dataDir: string;
}

/** Spawns a server on a free port with a fresh, empty data folder under `tempRoot`. */
export async function spawnWithDataDir(
  tempRoot: string,
  name: string,
  options: (dataDir: string, port: number) => SpawnOptions,
): Promise<ManagedServer> {
  const dataDir = await mkdtemp(path.join(tempRoot, `${name}-data-`));
  try {
    const server = await spawnServer(options(dataDir, await freePort()));
    return {
      ...server,
      dataDir,
      async stop() {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}
