/** Runs the @tus/server peer (tus-server-program.ts, built by build.ts) as a child process. */
import { spawnWithDataDir, type ManagedServer } from './server-process.js';

export interface TusOptions {
  programJs: string;
  /** Folder under which the fresh data folder is made. */
  tempRoot: string;
}

/** A fresh @tus/server process with an empty data folder; stop() also deletes that folder. */
export function startTus(options: TusOptions): Promise<ManagedServer> {
  return spawnWithDataDir(options.tempRoot, 'tus', (dataDir, port) => ({
    name: '@tus/server',
    args: [options.programJs],
    port,
    healthPath: '/healthz',
    env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir },
  }));
}
