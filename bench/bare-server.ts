/** Runs the bare node:http baseline (bare-server-program.ts, built by build.ts) as a child process. */
import { spawnWithDataDir, type ManagedServer } from './server-process.js';

export interface BareOptions {
  programJs: string;
  durable: boolean;
  /** The floor variant: also SHA1 and a SQLite record per chunk (bare-server-program.ts). */
  record?: boolean;
  /** Folder under which the fresh data folder is made. */
  tempRoot: string;
}

/** A fresh baseline process with an empty data folder; stop() also deletes that folder. */
export function startBare(options: BareOptions): Promise<ManagedServer> {
  return spawnWithDataDir(options.tempRoot, 'bare', (dataDir, port) => ({
    name: options.record ? 'floor server' : 'bare server',
    args: [options.programJs],
    port,
    healthPath: '/healthz',
    env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, DURABLE: String(options.durable), RECORD: String(options.record === true) },
  }));
}
