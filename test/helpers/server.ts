/** Starts a real Trickle server on 127.0.0.1 with its own data directory and database. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Clock } from '../../src/domain/ports.js';
import type { DatabaseKind } from './databases.js';

export interface TestServer {
  url: string;
  app: App;
  dataDir: string;
  config: Config;
  close(): Promise<void>;
}

/** A clock tests can move forward. */
export class TestClock implements Clock {
  constructor(public current = Date.now()) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export async function startServer(kind: DatabaseKind, overrides: Partial<Config> = {}, clock?: Clock): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-test-'));
  const database = await kind.create(dataDir);
  const config: Config = {
    ...loadConfig([], {}),
    port: 0,
    dataDir,
    databaseUrl: database.url,
    passwordHashLog2N: 10, // fast hashing for tests; production default is 15
    minFreeBytes: 0,
    logLevel: 'silent',
    registrationRateLimit: 0,
    tokenRateLimit: 0,
    ...overrides,
  };
  const app = await buildApp(config, clock ? { clock } : {});
  await app.http.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.http.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    dataDir,
    config,
    close: async () => {
      await app.http.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
