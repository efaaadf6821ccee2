/**
 * A full disk: a small dedicated file system (tmpfs) under DATA_DIR. Uploads that run out
 * of space answer 507 insufficient_storage, keep what they wrote, and nothing already
 * acknowledged is lost; with the database on that disk too, DELETE still frees space, and
 * uploads finish once space returns. Needs root (mount); skipped where mounting is not allowed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { buildApp } from '../../src/build-app.js';
import { loadConfig } from '../../src/config.js';
import type { AddressInfo } from 'node:net';
import { createAttachment, newUser, putMultipart, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import pg from 'pg';
import { databaseKinds } from '../helpers/databases.js';
import { readBlob, startServer } from '../helpers/server.js';
import { mountSmallDisk, mountingNotAllowed, withSmallDisk } from '../helpers/small-disk.js';

const cannotMount = await mountingNotAllowed();

describe('a full disk', { skip: cannotMount }, () => {
  test('writes that run out of space answer 507 and lose nothing acknowledged', async () => {
    const disk = await mountSmallDisk(8);
    if (typeof disk === 'string') return;
    const dbDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-full-db-'));
    const app = await buildApp({
      ...loadConfig([], {}),
      dataDir: disk.dir,
      databaseUrl: path.join(dbDir, 'db.sqlite'),
      passwordHashLog2N: 10,
      minFreeBytes: 0,
      logLevel: 'silent',
      registrationRateLimit: 0,
      tokenRateLimit: 0,
    });
    await app.http.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
    try {
      const { token, id: userId } = await newUser(base, 'full');
      // Two 3 MiB attachments fit at creation (their declared sizes are reserved); then another
      // program takes most of the rest, so they no longer fit in full.
      const fileA = randomFile(3 * 1024 * 1024);
      const fileB = randomFile(3 * 1024 * 1024);
      const a = await createAttachment(base, token, fileA.length);
      const b = await createAttachment(base, token, fileB.length);
      await writeFile(path.join(disk.dir, 'filler'), Buffer.alloc(3.5 * 1024 * 1024, 1));
      const acknowledged: Array<[number, number, number]> = [];
      let full = 0;
      const chunk = 512 * 1024;
      for (let at = 0; at < fileA.length; at += chunk) {
        for (const [id, file] of [[a, fileA], [b, fileB]] as const) {
          const reply = await putRaw(base, token, id, at, file.subarray(at, at + chunk));
          if (reply.status === 200) acknowledged.push([id, at, at + chunk]);
          else {
            assert.equal(reply.status, 507, reply.text);
            assert.equal(reply.json.body.error.name, 'insufficient_storage');
            full += 1;
          }
        }
      }
      assert.ok(full > 0, 'the disk never filled');
      // A create that cannot fit answers 507 up front.
      const big = await request(base, 'POST', '/attachments', { token, json: { attachment: { size: 64 * 1024 * 1024 } } });
      assert.equal(big.status, 507);
      // Every acknowledged chunk is recorded and byte-exact on disk.
      for (const [id, start, end] of acknowledged) {
        const record = await app.services.attachments.getOwned(userId, id);
        assert.ok(record.ranges.some(([s, e]) => s <= start && e >= end), `acknowledged [${start}, ${end}) of ${id} not recorded`);
        const stored = (await readFile(path.join(disk.dir, 'blobs', record.storageKey))).subarray(start, end);
        assert.ok(stored.equals((id === a ? fileA : fileB).subarray(start, end)), `acknowledged [${start}, ${end}) of ${id} differs`);
      }
      // Freeing space lets the other upload finish.
      assert.equal((await request(base, 'DELETE', `/attachments/${b}`, { token })).status, 204);
      const status = (await request(base, 'GET', `/attachments/${a}`, { token })).json.body.attachment;
      for (const [start, end] of status.missing as Array<[number, number]>) {
        assert.equal((await putRaw(base, token, a, start, fileA.subarray(start, end))).status, 200);
      }
      assert.equal((await request(base, 'GET', `/attachments/${a}`, { token })).json.body.attachment.sha1, sha1(fileA));
    } finally {
      await app.http.close();
      await disk.unmount();
      await rm(dbDir, { recursive: true, force: true });
    }
  });
});

describe('a full data disk under the database too', { skip: cannotMount }, () => {
  test('parallel raw and multipart chunks answer 200 or 507 (never 500), DELETE frees space, uploads finish once space returns', async () => {
    await withSmallDisk(32, async (dir) => {
      // The default layout: the SQLite database (and its WAL) in DATA_DIR, beside the blobs.
      const app = await buildApp({ ...loadConfig([], { DATA_DIR: dir }), passwordHashLog2N: 10, minFreeBytes: 0, logLevel: 'silent', registrationRateLimit: 0, tokenRateLimit: 0 });
      await app.http.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
      const filler = path.join(dir, 'filler');
      try {
        const { token, id: userId } = await newUser(base, 'fulldb');
        const size = 3 * 1024 * 1024;
        const files = Array.from({ length: 4 }, () => randomFile(size));
        const ids: number[] = [];
        for (const file of files) ids.push(await createAttachment(base, token, file.length));
        // Another program takes all but 2 MiB: the four uploads (12 MiB declared) no longer fit.
        const { bavail, bsize } = await statfs(dir);
        await writeFile(filler, Buffer.alloc(bavail * bsize - 2 * 1024 * 1024, 1));

        const chunk = 64 * 1024;
        const statuses = new Map<number, number>();
        const acknowledged: Array<[number, number]> = [];
        const workers = 8;
        await Promise.all(
          Array.from({ length: workers }, async (_, worker) => {
            for (let at = worker * chunk; at < size; at += workers * chunk) {
              for (const [index, id] of ids.entries()) {
                const bytes = files[index]!.subarray(at, at + chunk);
                const reply = (at / chunk) % 2 === 0 ? await putRaw(base, token, id, at, bytes) : await putMultipart(base, token, id, at, bytes);
                statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
                if (reply.status === 200) acknowledged.push([index, at]);
                else assert.equal(reply.json?.body?.error?.name, 'insufficient_storage', `${reply.status} ${reply.text}`);
              }
            }
          }),
        );
        assert.deepEqual([...statuses.keys()].sort(), [200, 507], `statuses: ${JSON.stringify([...statuses])}`);
        for (const [index, at] of acknowledged) {
          const record = await app.services.attachments.getOwned(userId, ids[index]!);
          assert.ok(record.ranges.some(([s, e]) => s <= at && e >= at + chunk), `acknowledged [${at}, +64 KiB) of ${ids[index]} not recorded`);
          const stored = await readBlob({ app }, record.storageKey, { start: at, end: at + chunk });
          assert.ok(stored.equals(files[index]!.subarray(at, at + chunk)), `acknowledged [${at}, +64 KiB) of ${ids[index]} differs`);
        }

        // Still full: deleting works (the database has to write to delete), and frees the bytes.
        assert.ok((await statfs(dir)).bavail * bsize < 256 * 1024, 'the disk is not full');
        for (const id of ids.slice(2)) {
          const deleted = await request(base, 'DELETE', `/attachments/${id}`, { token });
          assert.equal(deleted.status, 204, deleted.text);
          assert.equal((await request(base, 'GET', `/attachments/${id}`, { token })).status, 404);
        }

        // Space returns: the other two uploads finish, byte-exact, and the reserve is back.
        await rm(filler);
        for (const [index, id] of ids.slice(0, 2).entries()) {
          const status = (await request(base, 'GET', `/attachments/${id}`, { token })).json.body.attachment;
          for (const [start, end] of status.missing as Array<[number, number]>) {
            const reply = await putRaw(base, token, id, start, files[index]!.subarray(start, end));
            assert.equal(reply.status, 200, reply.text);
          }
          assert.equal((await request(base, 'GET', `/attachments/${id}`, { token })).json.body.attachment.sha1, sha1(files[index]!));
        }
        const reserve = path.join(dir, 'trickle.sqlite-reserve');
        for (let waited = 0; !(await stat(reserve).catch(() => null)) && waited < 20_000; waited += 250) await delay(250);
        assert.ok(await stat(reserve).catch(() => null), 'the space reserve was not written again');
      } finally {
        await app.http.close();
      }
    });
  });
});

/**
 * PostgreSQL's data directory is out of a test's reach, so its disk cannot be filled here. What
 * can be tested is the answer to the error it raises then: a PL/pgSQL trigger raises a real
 * disk_full (SQLSTATE 53100) on every change to attachments, as a full disk would on writing.
 */
const postgres = databaseKinds().find((kind) => kind.name === 'postgres')!;
describe('disk_full from PostgreSQL', { skip: postgres.skip }, () => {
  test('chunks (raw, multipart, tus) and DELETE answer 507, and work again once it is gone', async () => {
    const server = await startServer(postgres);
    const admin = new pg.Client({ connectionString: server.config.databaseUrl });
    await admin.connect();
    try {
      const { token } = await newUser(server.url, 'pgfull');
      const id = await createAttachment(server.url, token, 4);
      const tus = await request(server.url, 'POST', '/files/', { headers: { 'tus-resumable': '1.0.0', 'upload-length': '4', authorization: `Bearer ${token}` } });
      assert.equal(tus.status, 201, tus.text);
      await admin.query(`create function trickle_test_disk_full() returns trigger language plpgsql as $$
        begin raise exception 'could not extend file: No space left on device' using errcode = 'disk_full'; end $$`);
      await admin.query('create trigger trickle_test_disk_full before update or delete on attachments for each row execute function trickle_test_disk_full()');

      const refused = [
        await putRaw(server.url, token, id, 0, Buffer.from('ab')),
        await putMultipart(server.url, token, id, 2, Buffer.from('cd')),
        await request(server.url, 'DELETE', `/attachments/${id}`, { token }),
      ];
      for (const reply of refused) {
        assert.equal(reply.status, 507, reply.text);
        assert.equal(reply.json.body.error.name, 'insufficient_storage');
      }
      const patch = await request(server.url, 'PATCH', tus.headers.get('location')!, {
        headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', authorization: `Bearer ${token}` },
        raw: Buffer.from('wxyz'),
      });
      assert.equal(patch.status, 507, patch.text);

      await admin.query('drop trigger trickle_test_disk_full on attachments');
      const resumed = await putRaw(server.url, token, id, 0, Buffer.from('abcd'));
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal(resumed.json.body.attachment.sha1, sha1(Buffer.from('abcd')));
      assert.equal((await request(server.url, 'DELETE', `/attachments/${id}`, { token })).status, 204);
    } finally {
      await admin.end();
      await server.close();
    }
  });
});
