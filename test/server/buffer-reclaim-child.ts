/**
 * Run by buffer-reclaim.test.ts in a fresh process, so that V8's own collection heuristics start
 * from the same state in both runs: reads 96 MiB from a loopback socket, dropping each piece at
 * once, with or without the reclaimer (`with` as argv[2]; checked every 5 ms), and prints the
 * most array buffer bytes above the start seen as pieces arrived.
 */
import net from 'node:net';
import { once } from 'node:events';
import { BufferReclaimer } from '../../src/buffer-reclaim.js';

const MiB = 1024 * 1024;
const SENT = 96 * MiB;

const reclaimer = process.argv[2] === 'with' ? new BufferReclaimer(8 * MiB) : null;
const timer = reclaimer ? setInterval(() => reclaimer.check(), 5) : null;
const start = process.memoryUsage().arrayBuffers;
let peak = 0;
const server = net.createServer();
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as net.AddressInfo;
const received = new Promise<number>((resolve) => {
  server.once('connection', (socket) => {
    let bytes = 0;
    socket.on('data', (piece: Buffer) => {
      bytes += piece.length;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - start);
    });
    socket.on('end', () => resolve(bytes));
  });
});
const client = net.connect(port, '127.0.0.1');
const block = Buffer.alloc(MiB, 0x5a);
for (let sent = 0; sent < SENT; sent += block.length) {
  if (!client.write(block)) await once(client, 'drain');
  // An upload's pace, not loopback's: the reclaimer's timer gets its turns.
  await new Promise((resolve) => setTimeout(resolve, 2));
}
client.end();
const bytes = await received;
client.destroy();
server.close();
if (timer) clearInterval(timer);
process.stdout.write(JSON.stringify({ bytes, peak }) + '\n');
