/** The SDK's pure pieces: chunk sizing, backoff, Retry-After, progress. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkSizer } from '../../src/client/chunk-sizer.js';
import { TrickleApiError, TrickleNetworkError, isRetriable } from '../../src/client/errors.js';
import { ProgressMeter } from '../../src/client/progress.js';
import { backoffDelay, withRetries } from '../../src/client/retry.js';
import { parseRetryAfter } from '../../src/client/transport.js';

test('chunk sizes grow while requests are fast, shrink when slow or failing, within bounds', () => {
  const sizer = new ChunkSizer({ initial: 100, min: 50, max: 400, targetMs: 1000 });
  sizer.succeeded(100, 100);
  assert.equal(sizer.current, 200);
  sizer.succeeded(50, 10); // a short tail chunk says nothing
  assert.equal(sizer.current, 200);
  sizer.succeeded(200, 100);
  sizer.succeeded(400, 100);
  assert.equal(sizer.current, 400);
  sizer.succeeded(400, 1500); // near the target: keep
  assert.equal(sizer.current, 400);
  sizer.succeeded(400, 2500);
  assert.equal(sizer.current, 200);
  sizer.failed();
  sizer.failed();
  sizer.failed();
  assert.equal(sizer.current, 50);
  assert.throws(() => new ChunkSizer({ initial: 10, min: 20, max: 30, targetMs: 1 }), RangeError);
});

test('backoff is jittered below an exponential ceiling, and a Retry-After is a floor', () => {
  const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(0, policy, null, () => 0.999), 99.9);
  assert.equal(backoffDelay(3, policy, null, () => 1), 800);
  assert.equal(backoffDelay(10, policy, null, () => 1), 1000);
  assert.equal(backoffDelay(0, policy, null, () => 0), 0);
  const busy = new TrickleApiError(429, 'too_many_open_attachments', 'busy', 1, undefined, 5000);
  assert.equal(backoffDelay(0, policy, busy, () => 0.5), 5000);
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
});

test('only network failures, timeouts, 5xx, 408 and 429 are retried', async () => {
  assert.equal(isRetriable(new TrickleNetworkError('reset')), true);
  assert.equal(isRetriable(new TrickleApiError(503, 'unexpected_response', 'down')), true);
  assert.equal(isRetriable(new TrickleApiError(422, 'chunk_out_of_range', 'no')), false);
  assert.equal(isRetriable(new Error('bug')), false);
  let tries = 0;
  const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 2 };
  await assert.rejects(withRetries(async () => {
    tries += 1;
    throw new TrickleNetworkError('down');
  }, policy), TrickleNetworkError);
  assert.equal(tries, 4);
  tries = 0;
  await assert.rejects(withRetries(async () => {
    tries += 1;
    throw new TrickleApiError(409, 'size_mismatch', 'no');
  }, policy), TrickleApiError);
  assert.equal(tries, 1);
  const stop = new AbortController();
  stop.abort(new Error('stopped'));
  await assert.rejects(withRetries(async () => {
    throw new TrickleNetworkError('down');
  }, policy, stop.signal), /stopped/);
});

test('progress reports the recent rate and the time left', () => {
  let now = 0;
  const meter = new ProgressMeter(1000, 100, 5000, () => now);
  assert.deepEqual(meter.snapshot(), { acknowledgedBytes: 100, totalBytes: 1000, bytesPerSecond: 0, etaSeconds: null });
  now = 1000;
  const p = meter.update(300);
  assert.equal(p.bytesPerSecond, 200);
  assert.equal(p.etaSeconds, 3.5);
  now = 2000;
  assert.equal(meter.update(250).acknowledgedBytes, 300, 'acknowledged bytes never go back');
  now = 20_000;
  meter.update(900);
  now = 21_000;
  const late = meter.update(1000);
  assert.equal(late.etaSeconds, 0);
  assert.ok(late.bytesPerSecond >= 100, 'the rate reflects the last seconds, not the whole upload');
});
