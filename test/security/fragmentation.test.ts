/**
 * An attachment split into tens of thousands of disjoint ranges costs each chunk a bounded
 * amount of work (no per-range merging on the hot path), and the number of disjoint ranges
 * an attachment may have is capped with 409 too_many_ranges.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * Gives the attachment `count` one-byte ranges at even offsets. Sending them as 50,000 requests
 * would take minutes, so the recorded ranges are written straight into the row, in the form the
 * repository itself stores; everything after that goes through the API.
 */
async function fragment(server: TestServer, id: number, count: number): Promise<void> {
  const ranges = Array.from({ length: count }, (_, i) => [2 * i, 2 * i + 1]);
  await server.app.services.database.db
    .updateTable('attachments')
    .set({ ranges: JSON.stringify(ranges), received_bytes: count })
    .where('id', '=', id)
    .execute();
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Asks /healthz again and again while `busy()`; resolves the slowest answer's time. */
async function probeHealthWhile(server: TestServer, busy: () => boolean): Promise<{ ms: number; statuses: number[] }> {
  let slowest = 0;
  const statuses: number[] = [];
  do {
    const { value, ms } = await timed(() => request(server.url, 'GET', '/healthz'));
    statuses.push(value.status);
    slowest = Math.max(slowest, ms);
    await delay(2);
  } while (busy());
  return { ms: slowest, statuses };
}

for (const kind of databaseKinds()) {
  describe(`fragmented attachments on ${kind.name}`, { skip: kind.skip }, () => {
    test('a 1-byte chunk on an attachment with 5,000 and 50,000 ranges is answered in milliseconds; /healthz is never held up', async (t: TestContext) => {
      const server = await startServer(kind, { durableWrites: false, maxAttachmentRanges: 60_000 });
      try {
        const { token } = await newUser(server.url, 'fragments');
        for (const count of [5_000, 50_000]) {
          const size = 4 * count;
          const id = await createAttachment(server.url, token, size);
          await fragment(server, id, count);
          // A new disjoint range, then one that joins two ranges, then a status read: the first
          // chunk builds this process's view of the upload, the second reuses it.
          const fresh = await timed(() => putRaw(server.url, token, id, 2 * count + 1, Buffer.from([1])));
          assert.equal(fresh.value.status, 200, fresh.value.text);
          assert.equal(fresh.value.json.body.attachment.ranges.length, count + 1);
          let chunkDone = false;
          const joiningChunk = timed(() => putRaw(server.url, token, id, 1, Buffer.from([1]))).finally(() => (chunkDone = true));
          const healthz = await probeHealthWhile(server, () => !chunkDone);
          const joining = await joiningChunk;
          assert.equal(joining.value.status, 200, joining.value.text);
          const attachment = joining.value.json.body.attachment;
          assert.equal(attachment.ranges.length, count);
          assert.deepEqual(attachment.ranges[0], [0, 3]);
          assert.equal(attachment.received_bytes, count + 2);
          assert.equal(attachment.received, 3);
          const status = await timed(() => request(server.url, 'GET', `/attachments/${id}`, { token }));
          assert.equal(status.value.json.body.attachment.ranges.length, count);
          t.diagnostic(
            `${kind.name}, ${count} ranges: new range ${fresh.ms.toFixed(1)} ms, joining chunk ${joining.ms.toFixed(1)} ms, ` +
              `status ${status.ms.toFixed(1)} ms, /healthz meanwhile ${healthz.ms.toFixed(1)} ms`,
          );
          // Before range bookkeeping was fixed, 5,000 ranges took seconds and 50,000 minutes.
          for (const { ms } of [fresh, joining, status]) assert.ok(ms < 5000, `a request took ${ms.toFixed(0)} ms at ${count} ranges`);
          assert.ok(healthz.statuses.every((s) => s === 200));
          assert.ok(healthz.ms < 5000, `/healthz took ${healthz.ms.toFixed(0)} ms`);
        }
      } finally {
        await server.close();
      }
    });

    test('a chunk that would make one range too many is refused with 409 too_many_ranges; chunks that join ranges still land', async () => {
      const server = await startServer(kind, { maxAttachmentRanges: 3 });
      try {
        const { token } = await newUser(server.url, 'capped');
        const id = await createAttachment(server.url, token, 100);
        for (const offset of [0, 10, 20]) assert.equal((await putRaw(server.url, token, id, offset, Buffer.from('ab'))).status, 200);
        const refused = await putRaw(server.url, token, id, 30, Buffer.from('ab'));
        assert.equal(refused.status, 409);
        assert.equal(refused.json.body.error.name, 'too_many_ranges');
        assert.equal(refused.json.body.error.details.max_ranges, 3);
        // A multipart chunk (length unknown until it ends) is refused the same way, after its bytes.
        const multipart = await request(server.url, 'PUT', `/attachments/${id}`, {
          token,
          multipart: [['attachment[chunk_offset]', '40'], ['attachment[chunk]', Buffer.from('cd'), 'c.bin']],
        });
        assert.equal(multipart.status, 409);
        assert.equal(multipart.json.body.error.name, 'too_many_ranges');
        // Extending a range, or filling a gap, does not add one.
        assert.equal((await putRaw(server.url, token, id, 2, Buffer.from('cd'))).status, 200);
        const joined = await putRaw(server.url, token, id, 4, Buffer.alloc(6, 1));
        assert.equal(joined.status, 200);
        const status = await request(server.url, 'GET', `/attachments/${id}`, { token });
        assert.deepEqual(status.json.body.attachment.ranges, [
          [0, 12],
          [20, 22],
        ]);
        assert.equal((await putRaw(server.url, token, id, 30, Buffer.from('ab'))).status, 200);
      } finally {
        await server.close();
      }
    });
  });
}
