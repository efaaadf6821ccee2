/** Starts a real Trickle server on 127.0.0.1 with its own data directory and database. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { buildApp, type App } from '../../src/build-app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import { newUser } from './client.js';
import type { DatabaseKind } from './databases.js';
import { READY_TIMEOUT_MS } from './server-process.js';

export interface TestServer {
  url: string;
  app: App;
  dataDir: string;
  config: Config;
  close(): Promise<void>;
}

/** A clock tests can move forward. */
export class TestClock implements Clock {
  public current: number;

  constructor(current = Date.now()) {
    this.current = current;
  }
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** Fails loudly, naming what did not come up, instead of hanging until the test's own timeout. */
async function withinReadyTime<T>(starting: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([starting, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startServer(kind: DatabaseKind, overrides: Partial<Config> = {}, clock?: Clock): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-test-'));
  const database = await kind.create(dataDir);
  const config: Config = {
    ...loadConfig([], kind.storage?.() ?? {}),
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
  const app = await withinReadyTime(
    (async () => {
      const built = await buildApp(config, clock ? { clock } : {});
      await built.http.listen({ port: 0, host: '127.0.0.1' });
      return built;
    })(),
    `the ${kind.name} test server (data in ${dataDir})`,
  );
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

/** The bytes of a stored blob, read through the store (whichever it is), as any reader does. */
export async function readBlob(server: { app: App }, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of server.app.services.store.openRead(key, range) as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

/** The keys of every stored blob, sorted. */
export async function blobKeys(server: { app: App }): Promise<string[]> {
  const keys: string[] = [];
  for await (const blob of server.app.services.store.listBlobs()) keys.push(blob.key);
  return keys.sort();
}

/** Bytes [start, end) of an upload as they stand now (in place, or through its pieces). */
export async function uploadBytes(server: { app: App }, userId: number, attachmentId: number, start: number, end: number): Promise<Buffer> {
  const record = await server.app.services.attachments.getOwned(userId, attachmentId);
  const snapshot = await server.app.services.uploadBytes.snapshot(record);
  if (!snapshot) throw new Error(`attachment ${attachmentId} is gone`);
  const parts: Buffer[] = [];
  for await (const part of snapshot.source.read(start, end)) parts.push(part);
  return Buffer.concat(parts);
}

/** A suite's server and one user on it; filled in before the suite's tests run. */
export interface SuiteServer {
  server: TestServer;
  base: string;
  alice: { token: string; id: number };
}

/** Starts a server and registers a user before the enclosing suite's tests, and closes it after them. */
export function suiteServer(kind: DatabaseKind, overrides: Partial<Config> = {}): SuiteServer {
  const suite = {} as SuiteServer;
  before(async () => {
    suite.server = await startServer(kind, overrides);
    suite.base = suite.server.url;
    suite.alice = await newUser(suite.base, 'alice');
  });
  after(() => suite.server.close());
  return suite;
}
