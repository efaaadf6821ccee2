/** A second server process-in-process over the same database and data directory: another node. */
import type { AddressInfo } from 'node:net';
import { buildApp, type App } from '../../src/build-app.js';
import type { Config } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';

export interface Node {
  url: string;
  app: App;
  close(): Promise<void>;
}

export async function startNode(config: Config, clock?: Clock): Promise<Node> {
  const app = await buildApp(config, clock ? { clock } : {});
  await app.http.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.http.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.http.close() };
}
