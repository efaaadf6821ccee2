/**
 * Several nodes under attack, as a standing test (issue 22 item 10): two and three nodes on one
 * PostgreSQL database and one bucket. Each trial mixes what once went wrong: overlapping chunks
 * of different bytes sent to every node and racing the completion, a chunk streamed to S3 and
 * cut midway, a DELETE racing writes on another node, and a size fixed while chunks of the
 * still-unknown size arrive elsewhere. Every answer is below 500; every complete attachment's
 * `sha1` is the SHA1 of its stored bytes; no acknowledged range is lost; and once the sweeps
 * have run, every object in the bucket is named by a row.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openDatabase } from '../../src/db/database.js';
import { SqlBlobReferences } from '../../src/db/repositories/blob-references.js';
import { SqlDeletionHolds } from '../../src/db/repositories/deletion-holds.js';
import { SqlSweepLedger } from '../../src/db/repositories/sweep-ledger.js';
import { addRange, intersect, type ByteRange } from '../../src/domain/attachments/ranges.js';
import { OrphanSweeper } from '../../src/domain/maintenance/orphan-sweeper.js';
import { storageKinds } from '../helpers/databases.js';
import { newUser, putRaw, randomFile, request, sha1, type Reply } from '../helpers/client.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { blobKeys, readBlob, startServer, type TestServer } from '../helpers/server.js';

const TRIALS = Number(process.env.CLUSTER_ATTACK_TRIALS ?? 12);
const SIZE = 300_000;
const kind = storageKinds('postgres').find((k) => k.name === 'postgres+s3')!;

/** Sends the head of a raw chunk of `length` bytes and `sent` of them, then cuts the connection. */
async function cutChunk(base: string, token: string, id: number, offset: number, data: Buffer, sent: number): Promise<void> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `PUT /attachments/${id}?attachment%5Bchunk_offset%5D=${offset} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
  );
  socket.write(data.subarray(0, sent));
  await delay(150);
  socket.destroy();
}

describe('several nodes under attack on PostgreSQL and S3', { skip: kind.skip }, () => {
  for (const nodeCount of [2, 3]) {
    test(`${nodeCount} nodes: no 5xx, sha1 of the stored bytes, no acknowledged range lost, no unreferenced object`, { timeout: 600_000 }, async (t) => {
      const server: TestServer = await startServer(kind, { maxOpenAttachments: 10_000 });
      const roots: string[] = [];
      const others: Node[] = [];
      try {
        // Each node has a scratch folder of its own, as on separate machines.
        for (let n = 1; n < nodeCount; n += 1) {
          const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-node-'));
          roots.push(dataDir);
          others.push(await startNode({ ...server.config, dataDir }));
        }
        const bases = [server.url, ...others.map((o) => o.url)];
        const node = (i: number) => bases[i % bases.length]!;
        const user = await newUser(server.url, 'attacker');
        const answers = new Map<string, number>();
        const kept: Array<{ id: number; acknowledged: ByteRange[] }> = [];
        const note = (what: string, reply: Reply) => {
          answers.set(`${what} ${reply.status}`, (answers.get(`${what} ${reply.status}`) ?? 0) + 1);
          assert.ok(reply.status < 500, `${what}: ${reply.status} ${reply.text}`);
        };

        for (let trial = 0; trial < TRIALS; trial += 1) {
          const a = randomFile(SIZE);
          const b = randomFile(SIZE);
          const mode = trial % 3;
          const sized = mode !== 2;
          const created = await request(node(trial), 'POST', '/attachments', { token: user.token, json: { attachment: sized ? { size: SIZE } : {} } });
          assert.equal(created.status, 201, created.text);
          const id: number = created.json.body.attachment.id;
          let acknowledged: ByteRange[] = [];
          const chunk = async (i: number, start: number, data: Buffer, wait: number) => {
            await delay(wait);
            const reply = await putRaw(node(trial + i), user.token, id, start, data);
            note('chunk', reply);
            if (reply.status === 200) acknowledged = addRange(acknowledged, start, start + data.length);
          };
          const cut = 40_000 + ((trial * 53_101) % (SIZE - 80_000));
          if (mode === 0) {
            // Different bytes overlapping on every node, a streamed chunk cut midway, and the completion.
            await Promise.all([
              chunk(0, 0, a, 0),
              chunk(1, cut, b.subarray(cut), trial % 9),
              chunk(2, 0, b.subarray(0, cut + 10_000), (trial * 3) % 13),
              cutChunk(node(trial + 3), user.token, id, 0, a, cut),
            ]);
            kept.push({ id, acknowledged });
          } else if (mode === 1) {
            // A DELETE on one node while chunks arrive on the others.
            const [, , removed] = await Promise.all([
              chunk(1, 0, a.subarray(0, cut), 0),
              chunk(2, cut, a.subarray(cut), 0),
              delay(trial % 11).then(() => request(node(trial), 'DELETE', `/attachments/${id}`, { token: user.token })),
            ]);
            note('delete', removed);
            assert.equal(removed.status, 204, removed.text);
            const gone = await request(node(trial + 1), 'GET', `/attachments/${id}`, { token: user.token });
            assert.equal(gone.status, 404, `after DELETE: ${gone.status} ${gone.text}`);
          } else {
            // The size fixed on one node while chunks of the unknown size arrive on the others.
            const [, , fixed] = await Promise.all([
              chunk(1, 0, a.subarray(0, cut), 0),
              chunk(2, cut, a.subarray(cut), trial % 7),
              delay(trial % 5).then(() => request(node(trial), 'PUT', `/attachments/${id}`, { token: user.token, form: { 'attachment[size]': String(SIZE) } })),
            ]);
            note('size', fixed);
            assert.equal(fixed.status, 200, fixed.text);
            kept.push({ id, acknowledged });
          }
        }

        for (const { id, acknowledged } of kept) {
          let status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
          for (let wait = 0; wait < 100 && status.json.body.attachment.state !== 'complete'; wait += 1) {
            await delay(50);
            status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
          }
          const attachment = status.json.body.attachment;
          for (const [start, end] of acknowledged) {
            assert.deepEqual(intersect(attachment.ranges, start, end), [[start, end]], `attachment ${id} lost acknowledged bytes [${start}, ${end})`);
          }
          assert.equal(attachment.state, 'complete', `attachment ${id}: ${status.text}`);
          const record = await server.app.services.attachments.getOwned(user.id, id);
          assert.equal(attachment.sha1, sha1(await readBlob(server, record.storageKey)), `attachment ${id}: sha1 is not that of its stored bytes`);
        }

        // The sweeps, as they run once the grace period is over: nothing stays that no row names.
        await delay(500);
        await server.app.services.attachments.sweepExpired();
        const database = await openDatabase({ url: server.config.databaseUrl, durable: false });
        try {
          const later = { now: () => Date.now() + 2 * server.config.orphanGraceSeconds * 1000 };
          await new OrphanSweeper(server.app.services.store, new SqlBlobReferences(database), new SqlSweepLedger(database), new SqlDeletionHolds(database), later, server.config.orphanGraceSeconds * 1000).sweep();
          const keys = await blobKeys(server);
          const named = await new SqlBlobReferences(database).referenced(keys);
          assert.deepEqual(keys.filter((key) => !named.has(key)), [], 'objects that no row names');
        } finally {
          await database.close();
        }
        t.diagnostic(`${TRIALS} trials on ${nodeCount} nodes; answers: ${[...answers].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
      } finally {
        for (const other of others) await other.close();
        await server.close();
        for (const root of roots) await rm(root, { recursive: true, force: true });
      }
    });
  }
});
