/** The SDK's pure pieces: what the link estimate decides, waiting out failures, backoff, Retry-After, progress. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkSizing } from '../../src/client/chunk-sizing.js';
import { TrickleApiError, TrickleNetworkError, isRetriable } from '../../src/client/errors.js';
import { ProgressMeter } from '../../src/client/progress.js';
import { LinkEstimate } from '../../src/client/link-estimate.js';
import { backoffDelay, DEFAULT_RETRY, NetworkGate, offlineDelay, withRetries } from '../../src/client/retry.js';
import { parseRetryAfter } from '../../src/client/transport.js';

test('chunk size, chunks in flight and stall deadlines follow the measured link', () => {
  let now = 0;
  const link = new LinkEstimate(chunkSizing({ initial: 64 * 1024, min: 16 * 1024, max: 2 * 1024 * 1024, targetMs: 500 }), () => now);
  assert.equal(link.bytesPerSecond, null);
  assert.equal(link.chunkBytes(), 64 * 1024, 'nothing measured: the first size');
  assert.deepEqual([link.wantsMore(0, 1), link.wantsMore(0, 2)], [true, false], 'nothing measured: two chunks');
  assert.equal(link.msUntilWantsMore(100_000), null, 'nothing measured: only replies say when');
  // A 3G uplink: two requests of 62.5 kB in flight, one acknowledged every half second.
  link.roundTrip(200);
  link.started();
  link.started();
  for (let i = 0; i < 20; i += 1) {
    now += 500;
    link.replied(1000, link.expectedMs(125_000)); // on time: the margin narrows
    link.ended(62_500);
    link.started();
  }
  assert.equal(Math.round(link.bytesPerSecond!), 125_000);
  assert.equal(link.chunkBytes(), 62_500, 'half a second of the link');
  // Half a second's chunk plus a round trip (and the server's commit) in flight: about two chunks.
  assert.equal(link.wantsMore(62_500, 1), true);
  assert.equal(link.wantsMore(100_000, 2), false, 'a thin link: about two in flight, no more');
  // When the next chunk is due without a reply: once the link has drained to a round trip, the
  // commit and half a second's worth (125 kB/s x 0.72 s = 90 kB), 10 kB later.
  assert.equal(Math.round(link.msUntilWantsMore(100_000)!), 80);
  assert.equal(link.msUntilWantsMore(62_500), 0, 'due already');
  const stall = link.stallAfterMs(125_000);
  assert.ok(stall > 1000 && stall < 3500, `a request carrying a second of the link stalls after ${stall} ms`);
  // Late replies widen the margin; so does a request taken for stalled that had arrived.
  link.replied(10_000, 1000);
  assert.ok(link.stallAfterMs(125_000) > stall + 10_000);
  const wide = link.stallAfterMs(125_000);
  link.falseStall();
  assert.ok(link.stallAfterMs(125_000) > wide);

  // A fast link: the largest chunks, and more of them in flight to hide each round trip.
  const fast = new LinkEstimate(chunkSizing(), () => now);
  fast.roundTrip(50);
  fast.started();
  now += 10;
  fast.ended(2 * 1024 * 1024);
  assert.equal(fast.chunkBytes(), 2 * 1024 * 1024);
  assert.equal(fast.wantsMore(6 * 1024 * 1024, 3), true, 'a fast link: more in flight (the caller\'s limit bounds them)');
  assert.throws(() => chunkSizing({ initial: 10, min: 20, max: 30 }), RangeError);
  assert.equal(chunkSizing({ min: 256 * 1024, max: 256 * 1024 }).initial, 256 * 1024, 'bounds alone fix the first size too');
});

test('the gate waits out a lost network often at first, then less often, and never gives up by default', async () => {
  assert.ok(offlineDelay(0, () => 0.5) <= 300);
  assert.ok(offlineDelay(60_000, () => 0.5) >= 2000);
  assert.ok(offlineDelay(3_600_000, () => 1) <= 6000);
  let now = 1000;
  const waits: Array<[string, number]> = [];
  const gate = new NetworkGate(DEFAULT_RETRY, { onWait: (what, at) => waits.push([what, at]) }, () => now, () => 0.5);
  const reset = new TrickleNetworkError('reset');
  assert.equal(gate.failed(reset), 200);
  assert.equal(gate.open, false);
  assert.deepEqual(waits, [['network', 1200]]);
  now += 50;
  assert.equal(gate.failed(reset), 150, 'a second request cut by the same handover: the same try');
  assert.equal(waits.length, 1);
  for (let i = 0; i < 1000; i += 1) {
    now = gate.reopensAt;
    gate.failed(reset);
  }
  assert.equal(waits.length, 1001, 'a thousand failures in a row, and still waiting');
  assert.ok(gate.reopensAt - now <= 6000);
  gate.succeeded();
  now = gate.reopensAt;
  assert.equal(gate.open, true);
  assert.throws(() => gate.failed(new TrickleApiError(404, 'not_found', 'gone')), TrickleApiError);
  gate.failed(new TrickleApiError(503, 'unexpected_response', 'busy', null, undefined, 2000));
  assert.deepEqual(waits.at(-1), ['server', now + 2000]);
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

test('only network failures, timeouts, 5xx, 408 and rate limits are retried, not limits on the caller\'s own attachments', async () => {
  assert.equal(isRetriable(new TrickleNetworkError('reset')), true);
  assert.equal(isRetriable(new TrickleApiError(503, 'unexpected_response', 'down')), true);
  assert.equal(isRetriable(new TrickleApiError(422, 'chunk_out_of_range', 'no')), false);
  assert.equal(isRetriable(new TrickleApiError(429, 'rate_limited', 'slow down')), true);
  assert.equal(isRetriable(new TrickleApiError(429, 'reservation_limit', 'your own limit')), false);
  assert.equal(isRetriable(new TrickleApiError(429, 'too_many_open_attachments', 'your own limit')), false);
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
  assert.deepEqual(meter.snapshot(), { acknowledgedBytes: 100, totalBytes: 1000, bytesPerSecond: 0, etaSeconds: null, state: 'sending', nextTryAt: null });
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
  assert.deepEqual([meter.waiting('network', 25_000).state, meter.snapshot().nextTryAt], ['waiting for network', 25_000]);
  assert.deepEqual([meter.sending().state, meter.snapshot().nextTryAt], ['sending', null]);
});
