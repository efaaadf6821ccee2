/**
 * SPEC 7, "Offsets": two appends at one Upload-Offset that overlap in time give exactly one
 * success and one 409 carrying the real offset, and the loser changes nothing; on every
 * database and store, and on two nodes sharing PostgreSQL and S3. Both bodies are half sent,
 * then finished together, so both have passed the offset check made before the bytes.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { storageKinds } from '../helpers/databases.js';
import { newUser, randomFile, request, sha1 } from '../helpers/client.js';
import { startNode, type Node } from '../helpers/nodes.js';
import { startServer, uploadBytes, type TestServer } from '../helpers/server.js';

const TRIALS = Number(process.env.OFFSET_RACE_TRIALS ?? 4);
const PART = 64 * 1024;

interface Answer {
  status: number;
  offset: string | undefined;
}

/** A PATCH whose body is sent in two halves; the second half waits for `go`. */
function halfSentPatch(url: string, headers: Record<string, string>, body: Buffer, go: Promise<void>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PATCH', agent: false, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, offset: res.headers['upload-offset'] as string | undefined }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, body.length / 2));
    void go.then(() => req.end(body.subarray(body.length / 2)));
  });
}

const protocols = {
  tus: { create: { 'tus-resumable': '1.0.0' }, append: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream' } },
  ietf: { create: { 'upload-draft-interop-version': '6', 'upload-complete': '?0' }, append: { 'upload-draft-interop-version': '6', 'upload-complete': '?0', 'content-type': 'application/partial-upload' } },
};

for (const kind of storageKinds('postgres')) {
  describe(`racing appends at one offset on ${kind.name}`, { skip: kind.skip }, () => {
    for (const nodeCount of kind.name === 'postgres+s3' ? [1, 2] : [1]) {
      for (const [name, headers] of Object.entries(protocols)) {
        test(`${name}, ${nodeCount} node(s): one append wins, the other is 409 with the real offset and changes nothing`, { timeout: 300_000 }, async () => {
          const server: TestServer = await startServer(kind);
          const others: Node[] = [];
          try {
            for (let n = 1; n < nodeCount; n += 1) others.push(await startNode(server.config));
            const bases = [server.url, ...others.map((o) => o.url)];
            const user = await newUser(server.url, 'appender');
            const auth = { authorization: `Bearer ${user.token}` };
            for (let trial = 0; trial < TRIALS; trial += 1) {
              const created = await request(server.url, 'POST', '/files/', { headers: { ...auth, ...headers.create, 'upload-length': String(3 * PART) } });
              assert.equal(created.status, 201, created.text);
              const path = new URL(created.headers.get('location')!, server.url).pathname;
              const id = Number(path.split('/').pop());
              // Both start at offset 0 from the first PART; one of them must lose.
              const bodies = [randomFile(PART), randomFile(2 * PART)];
              let release!: () => void;
              const go = new Promise<void>((resolve) => (release = resolve));
              const answers = bodies.map((body, i) =>
                halfSentPatch(`${bases[(trial + i) % bases.length]}${path}`, { ...auth, ...headers.append, 'upload-offset': '0' }, body, go),
              );
              await delay(300);
              release();
              const [first, second] = await Promise.all(answers);
              const statuses = [first!.status, second!.status].sort();
              assert.deepEqual(statuses, [204, 409], `trial ${trial}: ${first!.status} and ${second!.status}`);
              const winner = first!.status === 204 ? 0 : 1;
              const loser = first!.status === 204 ? second! : first!;
              assert.equal(loser.offset, String(bodies[winner]!.length), `trial ${trial}: the 409 names the real offset`);
              // The loser changed nothing: the upload holds the winner's bytes and only those.
              const status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
              assert.deepEqual(status.json.body.attachment.ranges, [[0, bodies[winner]!.length]]);
              assert.ok((await uploadBytes(server, user.id, id, 0, bodies[winner]!.length)).equals(bodies[winner]!));
              // The upload goes on from there, and its SHA1 is the winner's bytes and the rest.
              const rest = randomFile(3 * PART - bodies[winner]!.length);
              const finish = await request(bases[trial % bases.length]!, 'PATCH', path, {
                headers: { ...auth, ...headers.append, 'upload-offset': String(bodies[winner]!.length), ...(name === 'ietf' ? { 'upload-complete': '?1' } : {}) },
                raw: rest,
              });
              assert.ok(finish.status === 204 || finish.status === 200, finish.text);
              const done = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
              assert.equal(done.json.body.attachment.sha1, sha1(Buffer.concat([bodies[winner]!, rest])));
            }
          } finally {
            for (const other of others) await other.close();
            await server.close();
          }
        });
      }
    }
  });
}
