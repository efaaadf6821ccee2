/**
 * Property: whatever the chunking, order, overlap, parallelism and transport, the
 * server assembles exactly the file, and chunks that fail their checksum change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { storageKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putMultipart, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { readBlob, startServer, type TestServer } from '../helpers/server.js';

interface Plan {
  size: number;
  cuts: number[];
  extras: Array<[number, number]>;
  poisoned: Array<[number, number]>;
  order: number[];
  parallelism: number;
  multipart: boolean[];
}

const plan: fc.Arbitrary<Plan> = fc
  .integer({ min: 1, max: 150_000 })
  .chain((size) =>
    fc.record({
      size: fc.constant(size),
      // Cut points split the file into chunks that cover it exactly.
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, size - 1) }), { maxLength: 12 }),
      extras: fc.array(fc.tuple(fc.nat(size - 1), fc.integer({ min: 1, max: size })), { maxLength: 5 }),
      poisoned: fc.array(fc.tuple(fc.nat(size - 1), fc.integer({ min: 1, max: size })), { maxLength: 3 }),
      order: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
      parallelism: fc.integer({ min: 1, max: 8 }),
      multipart: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
    }),
  );

for (const kind of storageKinds()) {
  describe(`assembly property on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    let token: string;
    let userId: number;
    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 1000 });
      ({ token, id: userId } = await newUser(server.url, 'prop'));
    });
    after(() => server.close());

    test('random chunkings, orders, overlaps and parallelism assemble the exact file', async () => {
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          const file = randomFile(p.size);
          const id = await createAttachment(server.url, token, p.size);
          const points = [0, ...[...new Set(p.cuts)].filter((c) => c < p.size).sort((a, b) => a - b), p.size];
          const chunks: Array<{ start: number; end: number; poison: boolean }> = [];
          for (let i = 0; i + 1 < points.length; i += 1) chunks.push({ start: points[i]!, end: points[i + 1]!, poison: false });
          for (const [start, length] of p.extras) chunks.push({ start, end: Math.min(p.size, start + length), poison: false });
          for (const [start, length] of p.poisoned) chunks.push({ start, end: Math.min(p.size, start + length), poison: true });
          // Shuffle deterministically from the generated order.
          const ordered = chunks.map((c, i) => ({ c, key: p.order[i % p.order.length]! * 31 + i })).sort((a, b) => a.key - b.key).map((x) => x.c);

          let next = 0;
          const worker = async () => {
            while (next < ordered.length) {
              const index = next++;
              const { start, end, poison } = ordered[index]!;
              const useMultipart = p.multipart[index % p.multipart.length]!;
              if (poison) {
                // Different bytes, announced with the real bytes' checksum: must be refused.
                // Every byte flipped: random garbage of one byte equals the real one 1 time in 256.
                const garbage = Buffer.from(file.subarray(start, end).map((byte) => byte ^ 0xff));
                const reply = useMultipart
                  ? await putMultipart(server.url, token, id, start, garbage, [['attachment[chunk_sha1]', sha1(file.subarray(start, end))]])
                  : await putRaw(server.url, token, id, start, garbage, `&attachment%5Bchunk_sha1%5D=${sha1(file.subarray(start, end))}`);
                assert.ok(reply.status === 422 || reply.status === 409, `poisoned chunk answered ${reply.status} ${reply.text}`);
                continue;
              }
              const bytes = file.subarray(start, end);
              const reply = useMultipart ? await putMultipart(server.url, token, id, start, bytes) : await putRaw(server.url, token, id, start, bytes);
              assert.equal(reply.status, 200, reply.text);
            }
          };
          await Promise.all(Array.from({ length: p.parallelism }, worker));

          const status = (await request(server.url, 'GET', `/attachments/${id}`, { token })).json.body.attachment;
          assert.equal(status.state, 'complete');
          assert.deepEqual(status.ranges, [[0, p.size]]);
          assert.equal(status.sha1, sha1(file));
          const record = await server.app.services.attachments.getOwned(userId, id);
          assert.ok((await readBlob(server, record.storageKey)).equals(file), 'stored bytes differ');
          await request(server.url, 'DELETE', `/attachments/${id}`, { token });
        }),
        // Object storage is slower per request; its runs are fewer.
        { numRuns: Math.ceil(Number(process.env.PROPERTY_RUNS ?? 40) / (kind.storage ? 4 : 1)) },
      );
    });
  });
}
