/** The pure parts of the image_size_hint budget (issue 22): the work queue, the per-client rate, the master's size, the nearest stored size. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { masterSide, nearestRendition, sizeFor } from '../../src/domain/media/image-size-policy.js';
import { parseGeometry, type ImageRendition } from '../../src/domain/media/processing.js';
import { PerMinuteRate } from '../../src/domain/rate-window.js';
import { WorkQueue } from '../../src/domain/work-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('WorkQueue', () => {
  test('runs at most `concurrency` at once, lets `maxWaiting` wait, refuses the rest at once', async () => {
    const queue = new WorkQueue(2, 3);
    let running = 0;
    let most = 0;
    const gates = Array.from({ length: 8 }, deferred);
    const piece = (i: number) => async () => {
      running += 1;
      most = Math.max(most, running);
      await gates[i]!.promise;
      running -= 1;
      return i;
    };
    const offered = gates.map((_, i) => queue.offer(piece(i)));
    assert.deepEqual(offered.map((p) => p !== null), [true, true, true, true, true, false, false, false]);
    assert.deepEqual(queue.load, { running: 2, waiting: 3 });
    // A background job waits regardless of the limit.
    const job = queue.run(async () => 'job');
    assert.deepEqual(queue.load, { running: 2, waiting: 4 });
    for (const gate of gates) gate.resolve();
    assert.deepEqual(await Promise.all(offered.filter((p) => p !== null)), [0, 1, 2, 3, 4]);
    assert.equal(await job, 'job');
    assert.equal(most, 2);
    assert.deepEqual(queue.load, { running: 0, waiting: 0 });
  });

  test('a failing piece frees its slot', async () => {
    const queue = new WorkQueue(1, 0);
    await assert.rejects(queue.offer(async () => Promise.reject(new Error('bad')))!, /bad/);
    assert.equal(await queue.offer(async () => 7), 7);
  });
});

describe('PerMinuteRate', () => {
  test('counts per key within a minute, starts again the next minute; 0 means no limit', () => {
    const clock = { current: 120_000, now() { return this.current; } };
    const rate = new PerMinuteRate(2, clock);
    assert.deepEqual([rate.take('a'), rate.take('a'), rate.take('a'), rate.take('b')], [true, true, false, true]);
    clock.current += 60_000;
    assert.equal(rate.take('a'), true);
    const open = new PerMinuteRate(0, clock);
    for (let i = 0; i < 1000; i += 1) assert.equal(open.take('a'), true);
  });
});

describe('masters and nearest sizes', () => {
  test('a master has a shorter side of 2048 and a longer side of at most 4096; small originals are their own', () => {
    assert.equal(masterSide(7000, 7000), 2048);
    assert.equal(masterSide(6000, 4000), 3072); // 3072x2048
    assert.equal(masterSide(4000, 6000), 3072); // the same, turned
    assert.equal(masterSide(20000, 1000), 4096); // 4096x205: longer side capped
    assert.equal(masterSide(3000, 3000), 2048);
    assert.equal(masterSide(2500, 2500), null); // a 2048 master would keep 67% of its pixels
    assert.equal(masterSide(80, 60), null);
  });

  const rendition = (geometry: string, width: number, height: number): ImageRendition => ({ geometry, width, height, storageKey: geometry, contentType: 'image/png', size: 1, sha1: '' });
  const geometry = (text: string) => parseGeometry(text)!;

  test('sizeFor follows the three modes', () => {
    assert.deepEqual(sizeFor(geometry('320x320'), { width: 6000, height: 4000 }), { width: 320, height: 213 });
    assert.deepEqual(sizeFor(geometry('320x320'), { width: 60, height: 40 }), { width: 60, height: 40 });
    assert.deepEqual(sizeFor(geometry('320x320<'), { width: 60, height: 40 }), { width: 320, height: 213 });
    assert.deepEqual(sizeFor(geometry('320x100/c'), { width: 60, height: 40 }), { width: 320, height: 100 });
  });

  test('the nearest stored size by ratio of width and height, never the master', () => {
    const stored = [rendition('100x100/c', 100, 100), rendition('1024x1024', 1024, 683), rendition('300x300', 300, 200), rendition('640x640', 640, 427), rendition('master', 3072, 2048)];
    const original = { width: 6000, height: 4000 };
    assert.equal(nearestRendition(geometry('320x320'), original, stored)?.geometry, '300x300');
    assert.equal(nearestRendition(geometry('90x90/c'), original, stored)?.geometry, '100x100/c');
    assert.equal(nearestRendition(geometry('2048x2048'), original, stored)?.geometry, '1024x1024');
    assert.equal(nearestRendition(geometry('700x400/c'), original, stored)?.geometry, '640x640');
    assert.equal(nearestRendition(geometry('10x10'), original, []), null);
  });

  test('an original that EXIF turns is measured as displayed (its full size says so)', () => {
    const stored = [rendition('100x100/c', 100, 100), rendition('1024x1024', 683, 1024), rendition('300x300', 200, 300)];
    assert.equal(nearestRendition(geometry('400x400'), { width: 6000, height: 4000 }, stored)?.geometry, '300x300');
  });
});
