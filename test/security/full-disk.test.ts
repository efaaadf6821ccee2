/**
 * A full disk: a small dedicated file system (tmpfs) under DATA_DIR. Uploads that run out
 * of space answer 507 insufficient_storage, keep what they wrote, and nothing already
 * acknowledged is lost. Needs root (mount); skipped where mounting is not allowed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { AddressInfo } from 'node:net';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';

const SIZE_MIB = 8;

async function mountSmallDisk(): Promise<{ dir: string; unmount: () => Promise<void> } | string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    await rm(dir, { recursive: true, force: true });
    return 'cannot mount a small file system here (needs root)';
  }
  return {
    dir,
    unmount: async () => {
      // A descriptor closing a moment late makes the file system busy: retry, then detach it.
      for (let attempt = 0; ; attempt += 1) {
        try {
          execFileSync('umount', [attempt < 10 ? dir : '-l', ...(attempt < 10 ? [] : [dir])], { stdio: 'ignore' });
          break;
        } catch (error) {
          if (attempt >= 10) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const disk = await mountSmallDisk();

describe('a full disk', { skip: typeof disk === 'string' ? disk : undefined }, () => {
  test('writes that run out of space answer 507 and lose nothing acknowledged', async () => {
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
