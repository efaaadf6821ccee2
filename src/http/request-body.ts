/**
 * A request body as upload bytes, whatever protocol carries them (REST chunks, tus, the IETF
 * draft): its declared length, whether there is one, the stream, and a signal that fires when
 * the connection goes before the answer.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ApiError } from '../domain/errors.js';

/** Content-Length when it is a plain integer; undefined for chunked transfer (or a malformed header). */
export function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header !== undefined && /^[0-9]{1,15}$/.test(header) ? Number(header) : undefined;
}

/** True when the request carries a body: a positive Content-Length, or chunked transfer. */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

/** The body as a stream (for routes whose content-type parser hands it over untouched). */
export function bodyStream(request: FastifyRequest): Readable {
  return request.body as Readable;
}

/**
 * Gives a body piece's memory back now, once its bytes are written (ChunkInput.releasePiece).
 * Node copies each piece of a request body into an ArrayBuffer of its own; one that lived
 * through a write in flight has usually been promoted, and would otherwise stay allocated
 * until a full collection. Detaching it (transfer) frees it at once. A piece that is a view
 * into a larger buffer is someone else's and is left alone.
 */
export function releaseBodyPiece(piece: Buffer): void {
  const memory = piece.buffer;
  if (memory instanceof ArrayBuffer && piece.byteOffset === 0 && piece.byteLength === memory.byteLength && !memory.detached) memory.transfer(0);
}

/** Aborts waits of a request whose connection closes before it is answered. */
export function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ApiError('malformed_body', 'The connection closed before the chunk was complete.'));
  });
  return controller.signal;
}
