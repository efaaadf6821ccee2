/**
 * Several nodes (SPEC 6): two server processes on one PostgreSQL database and one bucket.
 * Chunks of several attachments go to either node at random, in parallel and overlapping;
 * one node is killed with SIGKILL midway and started again. Every file completes byte-exact
 * as both nodes see it, and a clip made on one node downloads, whole and by Range, from the
 * other. Needs PostgreSQL and a test S3 server; says it skipped otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, randomFile, request, sha1, type Reply } from '../helpers/client.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { StoredUploads } from '../helpers/stored-uploads.js';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'tone.wav');
const FILES = 6;
const LANES = 8;

const kind = storageKinds('postgres').find((k) => k.name === 'postgres+s3')!;

describe('two nodes on PostgreSQL and S3', { skip: kind.skip }, () => {
  test('chunks to either node, one node killed midway: every file byte-exact on both', { timeout: 300_000 }, async (t) => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'trickle-nodes-'));
    const database = await kind.create(root);
    const shared = { HOST: '127.0.0.1', DATABASE_URL: database.url, PASSWORD_HASH_LOG2N: '10', LOG_LEVEL: 'silent', REGISTRATION_RATE_LIMIT: '0', TOKEN_RATE_LIMIT: '0', ...kind.storage!() };
    // Each node has a data folder of its own: nothing on it matters to the other.
    const envOf = (n: number) => ({ ...shared, DATA_DIR: path.join(root, `node-${n}`) });
    const nodes: ServerProcess[] = [await startServerProcess(envOf(0)), await startServerProcess(envOf(1))];
    let retries = 0;
    let chunks = 0;
    try {
      const { token } = await newUser(nodes[0]!.base, 'cluster');
      const files = [await readFile(FIXTURE), ...Array.from({ length: FILES - 1 }, (_, i) => randomFile(300_000 + i * 250_000))];
      const ids: number[] = [];
      for (const file of files) ids.push(await createAttachment(nodes[ids.length % 2]!.base, token, file.length));

      // Pieces of every file, in random order, overlapping their neighbours by up to 4 KiB.
      const work: Array<{ index: number; start: number; end: number }> = [];
      files.forEach((file, index) => {
        for (let at = 0; at < file.length; ) {
          const end = Math.min(file.length, at + 16 * 1024 + Math.floor(Math.random() * 96 * 1024));
          work.push({ index, start: Math.max(0, at - Math.floor(Math.random() * 4096)), end });
          at = end;
        }
      });
      work.sort(() => Math.random() - 0.5);

      /** Sends to a random node; a request cut by the kill, or to a node not back yet, is retried (bounded). */
      const send = async ({ index, start, end }: (typeof work)[number]): Promise<void> => {
        for (let attempt = 0; attempt < 40; attempt += 1) {
          const node = nodes[Math.floor(Math.random() * nodes.length)]!;
          let reply: Reply | null = null;
          try {
            reply = await putRaw(node.base, token, ids[index]!, start, files[index]!.subarray(start, end));
          } catch {
            reply = null; // connection refused or cut: that node is down
          }
          if (reply?.status === 200) {
            chunks += 1;
            return;
          }
          if (reply && reply.status < 500) assert.fail(`chunk [${start}, ${end}) of file ${index}: ${reply.status} ${reply.text}`);
          retries += 1;
          await delay(50);
        }
        assert.fail(`chunk [${start}, ${end}) of file ${index} never went through`);
      };

      let next = 0;
      const lane = async () => {
        while (next < work.length) await send(work[next++]!);
      };
      const lanes = Promise.all(Array.from({ length: LANES }, lane));
      // Midway, node 1 dies at once and comes back on the same settings.
      while (next < work.length / 2) await delay(20);
      await nodes[1]!.kill9();
      nodes[1] = await startServerProcess(envOf(1));
      await lanes;

      for (const [index, id] of ids.entries()) {
        for (const node of nodes) {
          const status = await request(node.base, 'GET', `/attachments/${id}`, { token });
          assert.equal(status.status, 200, status.text);
          assert.equal(status.json.body.attachment.state, 'complete', `file ${index} on ${node.base}`);
          assert.equal(status.json.body.attachment.sha1, sha1(files[index]!), `file ${index} on ${node.base}`);
        }
      }
      const stored = await StoredUploads.open(envOf(9));
      try {
        for (const [index, id] of ids.entries()) {
          assert.ok((await stored.read(id, 0, files[index]!.length)).equals(files[index]!), `stored file ${index} differs`);
        }
      } finally {
        await stored.close();
      }

      // A clip made on one node, downloaded from the other, whole and by Range.
      const made = await request(nodes[0]!.base, 'POST', '/audio_clips', {
        token,
        json: { audio_clip: { title: 'across nodes', uploaded_data: { chunked_attachment_id: ids[0], fingerprint: sha1(files[0]!) } } },
      });
      assert.equal(made.status, 201, made.text);
      const clipId = made.json.body.audio_clip.id;
      const whole = await fetch(`${nodes[1]!.base}/audio_clips/${clipId}/audio`);
      assert.equal(whole.status, 200);
      assert.equal(sha1(Buffer.from(await whole.arrayBuffer())), sha1(files[0]!));
      const part = await fetch(`${nodes[1]!.base}/audio_clips/${clipId}/audio`, { headers: { range: 'bytes=100-1099' } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(files[0]!.subarray(100, 1100)));

      t.diagnostic(`multi-node: ${files.length} files, ${work.length} chunks (${chunks} acknowledged), 1 node killed, ${retries} retries, 0 bytes lost`);
    } finally {
      for (const node of nodes) await node.kill9();
      await database.drop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
