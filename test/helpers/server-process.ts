/**
 * Runs `src/server.ts` as its own process, as a user does, on a free port. Waiting for it is
 * bounded: when it does not answer /healthz in time, or exits first, the start fails with what
 * the server printed, never silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const SERVER = path.join(import.meta.dirname, '..', '..', 'src', 'server.ts');
/** Generous: a cold tsx start on a loaded 2-core machine can take several seconds. */
export const READY_TIMEOUT_MS = 60_000;
/** The tail of the output that is kept for error messages and checks. */
const OUTPUT_KEPT = 256 * 1024;

export interface ServerProcess {
  child: ChildProcess;
  base: string;
  port: number;
  /** Everything the server wrote to stdout and stderr (the last 256 KiB). */
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then waits for the exit. */
  kill9(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export interface StartOptions {
  /** A file descriptor for the server's stdout (its log) instead of a pipe read into output(). */
  stdout?: number;
  /** A built `server.js` to run with plain Node instead of `src/server.ts` under tsx. */
  entry?: string;
}

/**
 * Starts the server with `env` on top of this process's environment. The port is chosen
 * afresh on every attempt: another process may take a probed port before the server binds it.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = READY_TIMEOUT_MS, options: StartOptions = {}): Promise<ServerProcess> {
  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, options.entry ? [options.entry] : ['--import', 'tsx', SERVER], {
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (data: Buffer) => {
      output += data.toString();
      if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const server: ServerProcess = {
      child,
      base,
      port,
      output: () => output.slice(-OUTPUT_KEPT),
      exited,
      kill9: async () => {
        if (!hasExited(child)) child.kill('SIGKILL');
        await exited;
      },
    };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !hasExited(child)) {
      // Answered, and by this child (not another process that took the port meanwhile).
      const ok = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
      if (ok && !hasExited(child)) return server;
      await delay(50);
    }
    const why = hasExited(child) ? `exited (code ${child.exitCode}, signal ${child.signalCode})` : `did not answer /healthz within ${timeoutMs / 1000} s`;
    await server.kill9();
    lastOutput = `server on port ${port} ${why}; its output:\n${server.output() || '(nothing)'}`;
    // A port taken meanwhile is worth another try; anything else is reported now.
    if (!/EADDRINUSE/.test(output)) break;
  }
  throw new Error(lastOutput);
}
