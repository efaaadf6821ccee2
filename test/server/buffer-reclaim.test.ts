/**
 * Dead socket buffers are freed once they add up to the reclaimer's step (src/buffer-reclaim.ts;
 * 16 MiB in the server), not only at V8's own 64 MiB of external growth. 96 MiB are read from a
 * loopback socket at an upload's pace and dropped at once, as a chunk's body is written and let
 * go; the peak of live array buffers is sampled: without the reclaimer most of the first 64 MiB pile
 * up (V8 frees them at 64 MiB), with it (an 8 MiB step here) the pile stays a few steps high.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { reclaimSocketBuffers } from '../../src/buffer-reclaim.js';

const MiB = 1024 * 1024;
const SENT = 96 * MiB;

/** Sends 96 MiB through a loopback socket, 1 MiB every 5 ms; resolves the peak growth of array buffers meanwhile. */
async function peakWhileDropping(): Promise<number> {
  const start = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - start)), 2);
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const received = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      let bytes = 0;
      socket.on('data', (piece: Buffer) => void (bytes += piece.length));
      socket.on('end', () => resolve(bytes));
    });
  });
  const client = net.connect(port, '127.0.0.1');
  const block = Buffer.alloc(MiB, 0x5a);
  try {
    for (let sent = 0; sent < SENT; sent += block.length) {
      if (!client.write(block)) await once(client, 'drain');
      await sleep(5);
    }
    client.end();
    assert.equal(await received, SENT);
    await sleep(50);
  } finally {
    clearInterval(sampler);
    client.destroy();
    server.close();
  }
  return peak;
}

test('dead socket buffers pile up to V8s slack without the reclaimer, to about its step with it', async (t) => {
  const without = await peakWhileDropping();
  assert.ok(without >= 32 * MiB, `without the reclaimer only ${(without / MiB).toFixed(1)} MiB piled up: V8 freed them itself, the test shows nothing`);
  const stop = reclaimSocketBuffers({ stepBytes: 8 * MiB, checkEveryMs: 10 });
  try {
    const withIt = await peakWhileDropping();
    t.diagnostic(`peak of dead buffers: ${(without / MiB).toFixed(1)} MiB without, ${(withIt / MiB).toFixed(1)} MiB with the reclaimer`);
    assert.ok(withIt <= without / 2, `${(withIt / MiB).toFixed(1)} MiB piled up with the reclaimer (step 8 MiB), ${(without / MiB).toFixed(1)} without`);
  } finally {
    stop();
  }
});
