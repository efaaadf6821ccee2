/**
 * On object storage a chunk is staged in a scratch file as it arrives. Once stored and recorded,
 * that copy is handed to the upload's background hashing (the reply does not wait for the hash),
 * read instead of the store, and deleted once hashed: in order or not, no scratch file outlives
 * its hashing, and the upload completes with the right SHA1.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, sha1 } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CHUNK = 256 * 1024;

/** Scratch files left, waiting up to 10 s for them to go (the hashing runs after the replies). */
async function scratchLeft(server: TestServer): Promise<string[]> {
  const dir = path.join(server.dataDir, 'scratch');
  let left: string[] = [];
  for (let attempt = 0; attempt < 100; attempt += 1) {
    left = await readdir(dir);
    if (left.length === 0) break;
    await sleep(100);
  }
  return left;
}

const kinds = [...storageKinds('sqlite'), ...storageKinds('postgres')].filter((kind) => kind.name.endsWith('+s3'));
for (const kind of kinds) {
  describe(`scratch copies of pieces on ${kind.name}`, { skip: kind.skip }, () => {
    test('hashed from, then deleted; the upload completes with its SHA1', async () => {
      const server = await startServer(kind, { ffmpegPath: '/nonexistent/ffmpeg' });
      try {
        const { token } = await newUser(server.url, 'scratch');
        // In order, and with a gap that a later chunk closes (the chunks after it wait to be hashed).
        for (const order of [
          [0, 1, 2, 3],
          [0, 2, 3, 1],
        ]) {
          const file = randomFile(4 * CHUNK - 1000);
          const id = await createAttachment(server.url, token, file.length);
          let last: { state: string; sha1: string | null } | null = null;
          for (const index of order) {
            const reply = await putRaw(server.url, token, id, index * CHUNK, file.subarray(index * CHUNK, (index + 1) * CHUNK));
            assert.equal(reply.status, 200, reply.text);
            last = reply.json.body.attachment;
          }
          assert.equal(last?.state, 'complete', `order ${order.join(',')}`);
          assert.equal(last?.sha1, sha1(file), `order ${order.join(',')}`);
          assert.deepEqual(await scratchLeft(server), [], `order ${order.join(',')}: scratch files outlived their hashing`);
        }
      } finally {
        await server.close();
      }
    });
  });
}
