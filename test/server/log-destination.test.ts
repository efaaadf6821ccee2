/**
 * The log's destination on a pipe whose reader stops reading (issue 22, item 1): writing
 * never waits, lines wait in a bounded queue and the rest are dropped and counted, and once
 * the reader reads again every queued line arrives whole and in order. A real FIFO, opened
 * non-blocking as Node leaves a piped stdout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { LogDestination } from '../../src/log-destination.js';

test('a stalled pipe never blocks the writer; queued lines arrive when it drains, the rest are counted', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-log-pipe-'));
  const fifo = path.join(dir, 'log');
  execFileSync('mkfifo', [fifo]);
  // Read-write keeps the pipe open without a reader; non-blocking makes a full pipe EAGAIN.
  const writeEnd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let dropped = 0;
  const destination = new LogDestination(writeEnd, (lines) => (dropped += lines));
  try {
    const lines = 20_000;
    const started = performance.now();
    for (let i = 0; i < lines; i += 1) destination.write(`{"n":${i},"msg":"${'x'.repeat(100)}"}\n`);
    const ms = performance.now() - started;
    // About 2.3 MB offered to a 64 KiB pipe nobody reads: most of it cannot wait.
    assert.ok(dropped > 0, 'lines past the queue bound are dropped');
    assert.ok(ms < 5000, `writing took ${ms} ms`);

    let text = '';
    const buffer = Buffer.alloc(64 * 1024);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && text.split('\n').length - 1 < lines - dropped) {
      try {
        const n = readSync(readEnd, buffer);
        text += buffer.toString('utf8', 0, n);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        await delay(5);
      }
    }
    const received = text.split('\n').slice(0, -1).map((line) => (JSON.parse(line) as { n: number }).n);
    assert.equal(received.length + dropped, lines, 'every line arrived or was counted');
    // The oldest lines are kept, the newest dropped: what arrived is 0, 1, 2, ... in order.
    assert.deepEqual(received, received.map((_, i) => i));
    t.diagnostic(`${lines} lines offered to a stalled pipe in ${ms.toFixed(0)} ms: ${received.length} arrived after it drained, ${dropped} dropped and counted`);
  } finally {
    destination.close();
    closeSync(writeEnd);
    closeSync(readEnd);
    await rm(dir, { recursive: true, force: true });
  }
});
