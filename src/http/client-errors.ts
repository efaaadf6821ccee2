/**
 * Requests Node's HTTP parser refuses before Fastify sees them (bad framing, oversized
 * headers, a request that does not arrive in time) are answered in the error envelope too.
 */
import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { ERROR_TABLE, type ErrorName } from '../domain/errors.js';
import { errorEnvelope } from './envelope.js';

function errorFor(code: string | undefined): ErrorName {
  if (code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  return 'malformed_request';
}

export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const name = errorFor(error.code);
  this.log.debug({ err: error }, 'refused by the HTTP parser');
  if (socket.writable) {
    const body = JSON.stringify(errorEnvelope(name));
    const status = ERROR_TABLE[name].status;
    socket.write(
      `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 408 ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
