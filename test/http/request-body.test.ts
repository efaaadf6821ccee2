/**
 * releaseBodyPiece gives back only memory that is the piece's alone: a body piece Node copied
 * into an ArrayBuffer of its own is emptied at once; a view into a larger buffer, or a small
 * Buffer from the shared pool, is someone else's too and stays as it is.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { releaseBodyPiece } from '../../src/http/request-body.js';

test('a request body piece is released at once; views and pooled buffers are left alone', async () => {
  const bodies: Buffer[][] = [];
  const server = http.createServer(async (request, response) => {
    const pieces: Buffer[] = [];
    for await (const piece of request) pieces.push(piece as Buffer);
    bodies.push(pieces);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const body = Buffer.alloc(256 * 1024, 7);
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
    await response.arrayBuffer();
    const pieces = bodies[0]!;
    assert.equal(Buffer.concat(pieces).length, body.length);
    for (const piece of pieces) {
      const length = piece.length;
      assert.ok(length > 0);
      releaseBodyPiece(piece);
      assert.equal(piece.buffer.byteLength, 0, `a body piece of ${length} bytes was not released`);
      releaseBodyPiece(piece); // twice is harmless
    }
  } finally {
    server.close();
  }

  const whole = Buffer.alloc(64 * 1024, 1);
  const view = whole.subarray(0, 1024);
  releaseBodyPiece(view);
  assert.equal(whole.length, 64 * 1024, 'a view must not release the buffer it is part of');
  assert.equal(view[0], 1);

  const pooled = Buffer.from('abc');
  const neighbour = Buffer.from('def');
  releaseBodyPiece(pooled);
  assert.equal(pooled.toString(), 'abc', 'a pooled buffer is shared with others');
  assert.equal(neighbour.toString(), 'def');
});
