/**
 * kill -9 at random moments while attachments upload in parallel; after a restart on
 * the same data, every acknowledged range is still recorded, every recorded byte is
 * the right byte, and resuming completes every file byte-exact. Some files are sent by the
 * SDK (which resumes each cycle from the server's missing ranges), the others by a plain
 * client that sends pieces in random order; after the last kill the SDK resumes them all.
 * CRASH_CYCLES sets the number of kills (default 30; `npm run soak` runs 500); on a busy machine
 * they stop after a time budget (at least a third of them), CRASH_BUDGET_FACTOR stretches it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { addRange, intersect, missingRanges, type ByteRange } from '../../src/domain/attachments/ranges.js';
import { storageKinds } from '../helpers/databases.js';
import { StoredUploads } from '../helpers/stored-uploads.js';
import { upload, type UploadOptions } from '../../src/client/node.js';
import { createAttachment, newUser, putRaw, randomFile, request, sha1 } from '../helpers/client.js';
import { startServerProcess } from '../helpers/server-process.js';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 30);
const FILES = 5;

/** The server as its own process on a free port; fails with its output when it does not come up. */
async function startProcess(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const { child, base } = await startServerProcess(env);
  return { child, base };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (exited(child)) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

interface Upload {
  id: number;
  file: Buffer;
  acknowledged: ByteRange[];
  viaSdk: boolean;
}

/** The SDK, told to give up quickly: the server it talks to is about to be killed. */
function sdkOptions(base: string, token: string, u: Upload): UploadOptions {
  return {
    server: base,
    token,
    attachmentId: u.id,
    retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 },
    chunkSizing: { initial: 64 * 1024, min: 32 * 1024, max: 256 * 1024, targetMs: 200 },
    onChunkAcknowledged: ([start, end]) => void (u.acknowledged = addRange(u.acknowledged, start, end)),
  };
}

/** Sends missing pieces in random order, a few at a time, until done or the server dies. */
async function sendMissing(base: string, token: string, upload: Upload, missing: ByteRange[]): Promise<void> {
  const pieces: ByteRange[] = [];
  for (const [start, end] of missing) {
    for (let at = start; at < end; ) {
      const length = Math.min(end - at, 32 * 1024 + Math.floor(Math.random() * 256 * 1024));
      pieces.push([at, at + length]);
      at += length;
    }
  }
  pieces.sort(() => Math.random() - 0.5);
  let next = 0;
  const lane = async () => {
    while (next < pieces.length) {
      const [start, end] = pieces[next++]!;
      // Chunks are idempotent: like a real client, retry one whose connection failed.
      let reply;
      for (let attempt = 0; !reply; attempt += 1) {
        try {
          reply = await putRaw(base, token, upload.id, start, upload.file.subarray(start, end));
        } catch (error) {
          if (attempt >= 2 || !(error instanceof TypeError)) throw error;
        }
      }
      assert.equal(reply.status, 200, reply.text);
      upload.acknowledged = addRange(upload.acknowledged, start, end);
    }
  };
  const lanes = await Promise.allSettled([lane(), lane(), lane()]);
  const failed = lanes.find((l) => l.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A GET after a restart may meet a pooled connection to the killed process: retry it. */
async function status(base: string, token: string, id: number) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const reply = await request(base, 'GET', `/attachments/${id}`, { token });
      assert.equal(reply.status, 200, reply.text);
      return reply.json.body.attachment;
    } catch (error) {
      if (attempt >= 3 || !(error instanceof TypeError)) throw error;
    }
  }
}

// Local disk on each database, and PostgreSQL with S3-compatible storage (fewer kills: slower).
for (const kind of storageKinds('postgres')) {
  const cycles = kind.storage ? Math.ceil(CYCLES / 3) : CYCLES;
  // On a busy machine each restart is a slow cold start: past this much time the kills stop,
  // once at least a third of them (and never fewer than three) are done.
  const minCycles = Math.min(cycles, Math.max(3, Math.ceil(cycles / 3)));
  const cycleBudgetMs = (kind.storage ? 150_000 : 240_000) * (Number(process.env.CRASH_BUDGET_FACTOR ?? 1) || 1);
  describe(`kill -9 while uploading on ${kind.name}`, { skip: kind.skip }, () => {
    test(`up to ${cycles} crashes lose no acknowledged byte`, { timeout: 300_000 + 2 * cycleBudgetMs }, async (t) => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-crash-'));
      const database = await kind.create(dataDir);
      const env = { HOST: "127.0.0.1", DATA_DIR: dataDir, DATABASE_URL: database.url, PASSWORD_HASH_LOG2N: "10", LOG_LEVEL: "silent", MIN_FREE_BYTES: "0", MAX_OPEN_ATTACHMENTS: "100000", REGISTRATION_RATE_LIMIT: "0", TOKEN_RATE_LIMIT: "0", ...kind.storage?.() };
      let { child, base } = await startProcess(env);
      try {
        const { token } = await newUser(base, 'crash');
        const newUpload = async (slot: number): Promise<Upload> => {
          const file = randomFile(512 * 1024 + Math.floor(Math.random() * 3 * 1024 * 1024));
          return { id: await createAttachment(base, token, file.length), file, acknowledged: [], viaSdk: slot < 2 };
        };
        const uploads: Upload[] = [];
        for (let slot = 0; slot < FILES; slot += 1) uploads.push(await newUpload(slot));
        let finished = 0;

        let interrupted = 0;
        let interruptedSdk = 0;
        const cyclesStarted = Date.now();
        let cycle = 0;
        for (; cycle < cycles && (cycle < minCycles || Date.now() - cyclesStarted < cycleBudgetMs); cycle += 1) {
          const sending: Array<Promise<unknown>> = uploads.map(async (u) => {
            if (u.viaSdk) await upload(u.file, sdkOptions(base, token, u));
            else await sendMissing(base, token, u, (await status(base, token, u.id)).missing);
          });
          // Creates racing the kill: a blob may be made whose row never commits.
          for (let i = 0; i < 3; i += 1) sending.push(createAttachment(base, token, 1024 * (i + 1)));
          // Requests cut off by the kill fail; that is expected, so nothing may go unhandled.
          const settled = Promise.allSettled(sending);
          await delay(30 + Math.random() * 300);
          assert.ok(!exited(child), `the server died on its own (exit ${child.exitCode}, signal ${child.signalCode})`);
          await kill9(child);
          await settled;
          ({ child, base } = await startProcess(env));
          await verifyRecorded(uploads, token);
          for (const [slot, u] of uploads.entries()) {
            const current = await status(base, token, u.id);
            if (current.missing.length > 0) {
              interrupted += 1;
              if (u.viaSdk) interruptedSdk += 1;
            } else if (current.state === 'complete') {
              // Finished between kills: it must be exact; a fresh file takes its place, so
              // every cycle kills uploads in flight.
              assert.equal(current.sha1, sha1(u.file));
              finished += 1;
              uploads[slot] = await newUpload(slot);
            }
          }
        }
        // The kills must have hit uploads in flight, or this test proves nothing.
        assert.ok(cycles === 0 || interrupted > 0, 'no kill interrupted an upload');
        assert.ok(cycle < 10 || interruptedSdk > 0, 'no kill interrupted an SDK upload');
        t.diagnostic(`${cycle} kills in ${((Date.now() - cyclesStarted) / 1000).toFixed(0)} s: ${interrupted} uploads interrupted (${interruptedSdk} of them the SDK's), ${finished} finished between kills`);

        // Resume with the SDK, without crashes: everything completes byte-exact.
        for (const u of uploads) {
          const result = await upload(u.file, { ...sdkOptions(base, token, u), retry: { retries: 5 } });
          assert.equal(result.resumed, true);
          assert.equal(result.attachmentId, u.id);
          assert.equal(result.fingerprint, sha1(u.file));
          const final = await status(base, token, u.id);
          assert.equal(final.state, 'complete');
          assert.equal(final.sha1, sha1(u.file));
        }

        // After the sweeps, exactly the files that records name remain: no orphans, nothing lost.
        await kill9(child);
        ({ child, base } = await startProcess({ ...env, SWEEP_INTERVAL: '1', ORPHAN_GRACE: '0' }));
        const stored = await StoredUploads.open(env);
        try {
          const named = await stored.namedKeys();
          let files: string[] = [];
          for (let i = 0; i < 50; i += 1) {
            await delay(100);
            files = await stored.blobKeys();
            if (files.length === named.length) break;
          }
          assert.deepEqual(files, named, 'the stored blobs are not exactly those the records name');
        } finally {
          await stored.close();
        }
      } finally {
        await kill9(child);
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      }

      async function verifyRecorded(uploads: Upload[], token: string): Promise<void> {
        const stored = await StoredUploads.open(env);
        try {
          for (const u of uploads) {
            const current = await status(base, token, u.id);
            const recorded: ByteRange[] = current.ranges;
            // Every acknowledged byte is still recorded.
            for (const [start, end] of u.acknowledged) {
              assert.deepEqual(intersect(recorded, start, end), [[start, end]], `acknowledged [${start}, ${end}) of ${u.id} was lost`);
            }
            assert.deepEqual(missingRanges(recorded, u.file.length), current.missing);
            // Every recorded byte is the right byte.
            for (const [start, end] of recorded) {
              const bytes = await stored.read(u.id, start, end);
              assert.ok(bytes.equals(u.file.subarray(start, end)), `recorded [${start}, ${end}) of ${u.id} has wrong bytes`);
            }
          }
        } finally {
          await stored.close();
        }
      }
    });
  });
}
