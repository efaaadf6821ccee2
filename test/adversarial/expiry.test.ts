/**
 * Expiry starvation (issue 11): one user holding a trickling request on each of the oldest
 * expired attachments must not stop the sweep from deleting everyone else's.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from '../helpers/databases.js';
import { createAttachment, newUser, request } from '../helpers/client.js';
import { startServer, TestClock, type TestServer } from '../helpers/server.js';

const HELD = 105; // more than one sweep batch (100)

for (const kind of databaseKinds()) {
  describe(`expiry under load on ${kind.name}`, { skip: kind.skip }, () => {
    let server: TestServer;
    const clock = new TestClock();
    const held: ClientRequest[] = [];

    before(async () => {
      server = await startServer(kind, { maxOpenAttachments: 1000, attachmentIdleTimeoutSeconds: 60 }, clock);
    });
    after(async () => {
      for (const req of held) req.destroy();
      await server.close();
    });

    test('the sweep deletes expired attachments behind ones with a request in flight', async (t) => {
      const holder = await newUser(server.url, 'holder');
      const victim = await newUser(server.url, 'victim');
      const ids: number[] = [];
      for (let i = 0; i < HELD; i += 1) ids.push(await createAttachment(server.url, holder.token, 1000));
      clock.advance(1000);
      const other = await createAttachment(server.url, victim.token, 1000);
      // A raw chunk that announces 1000 bytes and sends 1: its request stays in flight.
      for (const id of ids) {
        const req = httpRequest(`${server.url}/attachments/${id}?attachment%5Bchunk_offset%5D=0`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${holder.token}`, 'content-type': 'application/octet-stream', 'content-length': '1000' },
        });
        req.on('error', () => undefined);
        req.write(Buffer.alloc(1));
        held.push(req);
      }
      for (let wait = 0; wait < 200; wait += 1) {
        const metrics = await request(server.url, 'GET', '/metrics');
        const inFlight = Number(/^trickle_chunk_requests_in_flight (\d+)/m.exec(metrics.text)?.[1] ?? 0);
        if (inFlight >= HELD) break;
        await delay(25);
      }
      clock.advance(61 * 1000);
      const removed = await server.app.services.attachments.sweepExpired();
      t.diagnostic(`${HELD} expired attachments busy, 1 idle: the sweep removed ${removed}`);
      assert.equal(removed, 1);
      assert.equal((await request(server.url, 'GET', `/attachments/${other}`, { token: victim.token })).status, 404);
      assert.equal((await request(server.url, 'GET', `/attachments/${ids[0]}`, { token: holder.token })).status, 200);
    });
  });
}
