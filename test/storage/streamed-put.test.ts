/**
 * The pipe between a request and a store's PUT (src/storage/streamed-put.ts): bytes arrive in
 * order with backpressure, a failed transfer is reported to the writer (who then stores the
 * scratch copy), and an abort reaches the transfer. The S3 adapter's own use of it runs in the
 * storage conformance suite and the byte suites on S3.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { StreamedPut } from '../../src/storage/streamed-put.js';

/** A transfer that reads its body slowly, as a store over a network does. */
function slowReader(limit = Infinity) {
  const received: Buffer[] = [];
  let signal: AbortSignal | null = null;
  const send = async (body: Readable, abortSignal: AbortSignal) => {
    signal = abortSignal;
    let total = 0;
    for await (const piece of body as AsyncIterable<Buffer>) {
      received.push(piece);
      total += piece.length;
      if (total > limit) throw new Error('store refused');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  return { send, received, signal: () => signal };
}

test('every byte reaches the transfer in order, and finish resolves the key once it is stored', async () => {
  const reader = slowReader();
  const put = new StreamedPut('key-1', reader.send, 10_000);
  const pieces = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
  for (const piece of pieces) await put.write(piece);
  assert.equal(await put.finish(), 'key-1');
  assert.ok(Buffer.concat(reader.received).equals(Buffer.concat(pieces)));
});

test('a transfer that fails midway makes a later write reject, and finish too', async () => {
  const reader = slowReader(256 * 1024);
  const put = new StreamedPut('key-2', reader.send, 10_000);
  let failed: unknown = null;
  for (let i = 0; i < 100 && failed === null; i += 1) await put.write(randomBytes(64 * 1024)).catch((error: unknown) => (failed = error));
  assert.match(String(failed), /store refused/);
  await assert.rejects(() => put.finish(), /store refused/);
});

test('abort reaches the transfer through its signal', async () => {
  const reader = slowReader();
  const put = new StreamedPut('key-3', reader.send, 10_000);
  await put.write(randomBytes(1024));
  await put.abort();
  assert.equal(reader.signal()?.aborted, true);
});

/** A store that takes `accept` bytes, then neither reads nor answers (a frozen server). */
function frozenAfter(accept: number) {
  let signal: AbortSignal | null = null;
  const send = async (body: Readable, abortSignal: AbortSignal) => {
    signal = abortSignal;
    let total = 0;
    body.on('data', (piece: Buffer) => {
      total += piece.length;
      if (total >= accept) body.pause();
    });
    await new Promise((_resolve, reject) => abortSignal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  };
  return { send, signal: () => signal };
}

test('a store that stops taking bytes fails the write with STORAGE_UNAVAILABLE after the time limit, and is aborted', async () => {
  const store = frozenAfter(64 * 1024);
  const put = new StreamedPut('key-4', store.send, 300);
  const started = Date.now();
  let failed: (Error & { code?: string }) | null = null;
  for (let i = 0; i < 200 && failed === null; i += 1) await put.write(randomBytes(64 * 1024)).catch((error: Error) => (failed = error));
  assert.equal(failed!.code, 'STORAGE_UNAVAILABLE', String(failed));
  assert.ok(Date.now() - started < 5000, 'failed within the time limit, with margin');
  assert.equal(store.signal()?.aborted, true);
});

test('a store that takes the whole piece but never answers fails finish with STORAGE_UNAVAILABLE', async () => {
  const store = frozenAfter(Infinity);
  const put = new StreamedPut('key-5', store.send, 300);
  await put.write(randomBytes(1024));
  await assert.rejects(() => put.finish(), (error: Error & { code?: string }) => error.code === 'STORAGE_UNAVAILABLE');
  assert.equal(store.signal()?.aborted, true);
});
