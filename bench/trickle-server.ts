/** Runs the real Trickle server (node <build>/server.js, built by build.ts) as a child process. */
import { spawnWithDataDir, type ManagedServer } from './server-process.js';

export interface TrickleOptions {
  serverJs: string;
  durable: boolean;
  maxAttachmentSize: number;
  /** Folder under which the fresh DATA_DIR is made. */
  tempRoot: string;
  /** Where to write a V8 CPU profile of this process, or null for none. */
  cpuProfile: { dir: string; name: string } | null;
  /** MAX_OPEN_ATTACHMENTS, when the server's default (100) is too few for the scenario. */
  maxOpenAttachments?: number;
  /** More settings for the server's environment. */
  env?: Record<string, string>;
}

/** A fresh Trickle process with an empty DATA_DIR; stop() also deletes that folder. */
export function startTrickle(options: TrickleOptions): Promise<ManagedServer> {
  const { cpuProfile } = options;
  const profArgs = cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfile.dir}`, `--cpu-prof-name=${cpuProfile.name}`] : [];
  // For profilers outside V8 (e.g. BENCH_TRICKLE_NODE_ARGS=--perf-basic-prof for Linux perf).
  const extraArgs = (process.env.BENCH_TRICKLE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnWithDataDir(options.tempRoot, 'trickle', (dataDir, port) => ({
    name: 'Trickle',
    // The same V8 flag as `npm start`: a small young generation keeps peak RSS flat.
    args: ['--max-semi-space-size=1', ...profArgs, ...extraArgs, options.serverJs],
    port,
    healthPath: '/healthz',
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DURABLE_WRITES: String(options.durable),
      // The cheapest scrypt allowed: logging in is not what is measured.
      PASSWORD_HASH_LOG2N: '10',
      LOG_LEVEL: 'warn',
      MAX_ATTACHMENT_SIZE: String(options.maxAttachmentSize),
      MIN_FREE_BYTES: '0',
      ...(options.maxOpenAttachments !== undefined ? { MAX_OPEN_ATTACHMENTS: String(options.maxOpenAttachments) } : {}),
      ...options.env,
    },
  }));
}
