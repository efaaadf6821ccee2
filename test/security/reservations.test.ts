/**
 * No account can reserve the disk (SPEC 3.6): the bytes a user's attachments still uploading
 * have declared but not received are bounded per user (429 reservation_limit), whichever way
 * they are declared (a create, a size fixed later, tus), and come back as bytes arrive or
 * attachments go. On a small disk of its own, one user declaring all the space it can get no
 * longer makes another user's create answer 507.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, putRaw, request, type Reply } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { mountingNotAllowed, withSmallDisk } from '../helpers/small-disk.js';

const MiB = 1024 * 1024;

function create(base: string, token: string, size?: number): Promise<Reply> {
  return request(base, 'POST', '/attachments', { token, json: { attachment: size === undefined ? {} : { size } } });
}

function assertReservationLimit(reply: Reply, reserved: number, requested: number, max: number): void {
  assert.equal(reply.status, 429, reply.text);
  assert.equal(reply.json.body.error.name, 'reservation_limit');
  assert.equal(reply.json.body.error.code, 1703);
  assert.deepEqual(reply.json.body.error.details, { max_reserved_bytes: max, reserved_bytes: reserved, requested_bytes: requested });
}

for (const kind of databaseKinds()) {
  describe(`declared bytes per user on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    const max = 3 * MiB;
    before(async () => {
      server = await startServer(kind, { maxAttachmentSize: 2 * MiB, maxReservedBytes: max });
    });
    after(() => server.close());

    test('creates past the limit are 429 reservation_limit; bytes sent and deletes give the room back', async () => {
      const alice = await newUser(server.url, 'resa');
      const bob = await newUser(server.url, 'resb');
      const account = await request(server.url, 'GET', '/account', { token: alice.token });
      assert.equal(account.json.body.user.limits.max_reserved_bytes, max);
      const first = await createAttachment(server.url, alice.token, 2 * MiB);
      const second = await createAttachment(server.url, alice.token, MiB);
      assertReservationLimit(await create(server.url, alice.token, 1), 3 * MiB, 1, max);
      // Another user's room is their own.
      assert.equal((await create(server.url, bob.token, 2 * MiB)).status, 201);
      // Bytes received are no longer declared-but-unsent.
      assert.equal((await putRaw(server.url, alice.token, first, 0, Buffer.alloc(MiB / 2, 1))).status, 200);
      assert.equal((await create(server.url, alice.token, MiB / 2)).status, 201);
      assertReservationLimit(await create(server.url, alice.token, 1), 3 * MiB, 1, max);
      // A complete attachment declares nothing more, and a deleted one nothing at all.
      assert.equal((await putRaw(server.url, alice.token, second, 0, Buffer.alloc(MiB, 2))).json.body.attachment.complete, true);
      assert.equal((await request(server.url, 'DELETE', `/attachments/${first}`, { token: alice.token })).status, 204);
      assert.equal((await create(server.url, alice.token, 2 * MiB)).status, 201);
    });

    test('a size fixed later and a tus Upload-Length count the same way', async () => {
      const carol = await newUser(server.url, 'resc');
      await createAttachment(server.url, carol.token, 2 * MiB);
      // Unknown size: nothing declared yet. One byte near the end, then the size: 2 MiB - 1 more.
      const unsized = (await create(server.url, carol.token)).json.body.attachment.id as number;
      assert.equal((await putRaw(server.url, carol.token, unsized, 2 * MiB - 1, Buffer.from([7]))).status, 200);
      const fixed = await request(server.url, 'PUT', `/attachments/${unsized}`, { token: carol.token, json: { attachment: { size: 2 * MiB } } });
      assertReservationLimit(fixed, 2 * MiB, 2 * MiB - 1, max);
      assert.equal((await request(server.url, 'GET', `/attachments/${unsized}`, { token: carol.token })).json.body.attachment.size, null);
      const tus = await request(server.url, 'POST', '/files/', { headers: { 'tus-resumable': '1.0.0', 'upload-length': String(2 * MiB), authorization: `Bearer ${carol.token}` } });
      assert.equal(tus.status, 429, tus.text);
      // Within the limit both work.
      assert.equal((await request(server.url, 'PUT', `/attachments/${unsized}`, { token: carol.token, json: { attachment: { size: MiB } } })).status, 409);
      const small = (await create(server.url, carol.token)).json.body.attachment.id as number;
      assert.equal((await request(server.url, 'PUT', `/attachments/${small}`, { token: carol.token, json: { attachment: { size: MiB / 2 } } })).status, 200);
    });
  });
}

const cannotMount = await mountingNotAllowed();

for (const kind of databaseKinds()) {
  describe(`one user cannot fill another's disk on ${kind.name}`, { skip: kind.skip ?? cannotMount }, () => {
    test("declaring all the space one can get never makes another user's 1 MiB create answer 507", async () => {
      await withSmallDisk(64, async (dir) => {
        // The blobs on a 64 MiB disk; attachments of up to 8 MiB, so by default 16 MiB declared per user.
        const dataDir = path.join(dir, 'data');
        await mkdir(dataDir);
        const server = await startServer(kind, { dataDir, maxAttachmentSize: 8 * MiB, maxReservedBytes: 16 * MiB });
        try {
          const mallory = await newUser(server.url, 'mallory');
          const victim = await newUser(server.url, 'victim');
          // Mallory declares what she can, largest first, and sends nothing.
          const refusals = new Map<string, number>();
          for (let size = 8 * MiB; size >= 64 * 1024; size /= 2) {
            for (let attempt = 0; attempt < 20; attempt += 1) {
              const reply = await create(server.url, mallory.token, size);
              if (reply.status === 201) continue;
              const name = reply.json.body.error.name as string;
              refusals.set(name, (refusals.get(name) ?? 0) + 1);
              break;
            }
          }
          const created = await create(server.url, victim.token, MiB);
          assert.equal(created.status, 201, created.text);
          assert.ok(refusals.has('reservation_limit'), `mallory was never stopped by her own limit: ${JSON.stringify([...refusals])}`);
        } finally {
          await server.close();
        }
      });
    });
  });
}
