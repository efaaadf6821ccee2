/**
 * The SHA1 of a complete attachment is the SHA1 of the bytes stored and served, whatever raced
 * (issue 22 item 0). Overlapping chunks of different bytes race each other and the completion
 * they trigger, on one node and on two nodes sharing the database and the bucket; every trial
 * ends with the attachment complete, its `sha1` equal to the SHA1 of its stored bytes, and every
 * answer a 200 or a 409 (the attachment completed first), never a 5xx.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, request, sha1, type Reply } from '../helpers/client.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { readBlob, startServer, type TestServer } from '../helpers/server.js';

const TRIALS = Number(process.env.SHA1_RACE_TRIALS ?? 50);
const SIZE = 400_000;

/** The chunks of one trial: one whole file A, and pieces of B over it (different bytes). */
function chunksOf(trial: number, a: Buffer, b: Buffer): Array<{ start: number; data: Buffer }> {
  const cut = 50_000 + ((trial * 37_813) % (SIZE - 100_000));
  return [
    { start: 0, data: a },
    { start: cut, data: b.subarray(cut) },
    { start: 0, data: b.subarray(0, cut + 20_000) },
    { start: Math.floor(cut / 2), data: a.subarray(Math.floor(cut / 2), SIZE) },
  ];
}

const kinds = [...storageKinds('sqlite').filter((k) => k.name !== 'postgres'), storageKinds('postgres').find((k) => k.name === 'postgres+s3')!];

for (const kind of kinds) {
  describe(`SHA1 under racing overlaps on ${kind.name}`, { skip: kind.skip }, () => {
    for (const nodeCount of kind.name === 'postgres+s3' ? [1, 2] : [1]) {
      test(`${nodeCount} node(s): sha1 is the SHA1 of the stored bytes in every trial`, { timeout: 600_000 }, async (t) => {
        const server: TestServer = await startServer(kind, { maxOpenAttachments: 10_000, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent' });
        const others: Node[] = [];
        try {
          for (let n = 1; n < nodeCount; n += 1) others.push(await startNode(server.config));
          const bases = [server.url, ...others.map((o) => o.url)];
          const user = await newUser(server.url, 'sha1race');
          const statuses = new Map<number, number>();
          for (let trial = 0; trial < TRIALS; trial += 1) {
            const a = randomFile(SIZE);
            const b = randomFile(SIZE);
            const id = await createAttachment(server.url, user.token, SIZE);
            const replies: Reply[] = await Promise.all(
              chunksOf(trial, a, b).map(async (chunk, i) => {
                // Over the trials each request lands at every point of the others, up to past completion.
                await delay(((trial + 1) * (i + 1) * 7) % 40);
                return putRaw(bases[(trial + i) % bases.length]!, user.token, id, chunk.start, chunk.data);
              }),
            );
            for (const reply of replies) {
              statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
              assert.ok(reply.status === 200 || reply.status === 409, `trial ${trial}: ${reply.status} ${reply.text}`);
            }
            // Every byte arrived, so some request completed it (a losing finalizer may still be busy).
            let status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
            for (let wait = 0; wait < 100 && status.json.body.attachment.state !== 'complete'; wait += 1) {
              await delay(50);
              status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
            }
            const attachment = status.json.body.attachment;
            assert.equal(attachment.state, 'complete', `trial ${trial}: ${status.text}`);
            const record = await server.app.services.attachments.getOwned(user.id, id);
            const stored = await readBlob(server, record.storageKey);
            assert.equal(stored.length, SIZE);
            assert.equal(attachment.sha1, sha1(stored), `trial ${trial}: the attachment's sha1 is not the SHA1 of its stored bytes`);
          }
          t.diagnostic(`${TRIALS} trials on ${nodeCount} node(s); answers: ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
        } finally {
          for (const other of others) await other.close();
          await server.close();
        }
      });
    }
  });
}
