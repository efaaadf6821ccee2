/**
 * Where an upload's server CPU goes, by phase, under the capacity load (issue 27): N clients
 * at once create an attachment each, then send their first 64 KiB chunk, then the middle
 * chunks of a 1 MiB file, then the last one (which completes it). Each phase runs for every
 * client before the next starts, and the server's CPU (all threads, /proc) is read between
 * phases, so a first chunk's or a completion's own cost shows beside a middle chunk's.
 *
 *   npx tsx bench/upload-phases.ts [--clients 500] [--server-js .bench/dist/server.js] [--warm] [--no-sync]
 *
 * --warm runs the creates once before the measured ones (the first requests also pay for
 * compiling code and schemas). Build the server first (npm run bench builds .bench/dist).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MiB } from './options.js';
import { readCpuSeconds } from './server-process.js';
import { ensureSourceFile } from './source-file.js';
import { trickleTarget } from './targets.js';
import { trickleLogin } from './trickle-api.js';
import { startTrickle } from './trickle-server.js';
import { uploadAgent } from './upload-client.js';

const CHUNK = 64 * 1024;
const SIZE = MiB;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    'server-js': { type: 'string', default: '.bench/dist/server.js' },
    warm: { type: 'boolean', default: false },
    'no-sync': { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
if (!Number.isInteger(clients) || clients < 1) throw new Error('--clients must be a whole number from 1');
const creates = values.warm ? 2 * clients : clients;
const tempRoot = path.join(os.tmpdir(), 'trickle-bench');
const source = await ensureSourceFile(tempRoot, SIZE);
const server = await startTrickle({
  serverJs: path.resolve(values['server-js']),
  durable: !values['no-sync'],
  maxAttachmentSize: SIZE,
  tempRoot,
  maxOpenAttachments: creates,
  env: { MAX_RESERVED_BYTES: String(creates * SIZE) },
  cpuProfile: null,
});
const agent = uploadAgent(clients);
try {
  const target = trickleTarget({ agent, baseUrl: server.baseUrl, token: await trickleLogin(agent, server.baseUrl) }, 'raw', source);
  const phase = async <T>(name: string, requests: number, run: () => Promise<T>): Promise<T> => {
    const before = await readCpuSeconds(server.pid);
    const result = await run();
    const cpu = (await readCpuSeconds(server.pid)) - before;
    console.log(`${name.padEnd(16)} ${((cpu * 1e6) / requests).toFixed(0).padStart(6)} µs server CPU per request (${requests} requests)`);
    return result;
  };
  const createAll = () => Promise.all(Array.from({ length: clients }, () => target.begin(SIZE)));
  if (values.warm) await phase('create (warm-up)', clients, createAll);
  const sessions = await phase('create', clients, createAll);
  await phase('first chunk', clients, () => Promise.all(sessions.map((s) => s.sendChunk(0, CHUNK))));
  const middle = SIZE / CHUNK - 2;
  await phase('middle chunk', clients * middle, () =>
    Promise.all(
      sessions.map(async (s) => {
        for (let i = 1; i <= middle; i += 1) await s.sendChunk(i * CHUNK, CHUNK);
      }),
    ),
  );
  await phase('last chunk', clients, () => Promise.all(sessions.map((s) => s.sendChunk(SIZE - CHUNK, CHUNK))));
} finally {
  agent.destroy();
  await server.stop();
}
