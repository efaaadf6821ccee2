/** Header parsing and replies that tus and the IETF draft share. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../domain/errors.js';
import type { AttachmentRecord } from '../../domain/attachments/ports.js';
import { UploadConflict } from '../../domain/protocols/resumable-uploads.js';
import { toApiError } from '../error-handler.js';

/** Where uploads live; `/files/<id>` and `/attachments/<id>` name the same attachment. */
export const FILES_PATH = '/files/';

export function uploadLocation(record: AttachmentRecord): string {
  return `${FILES_PATH}${record.id}`;
}

/** An upload id from the path; anything else names no upload. */
export function uploadId(raw: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(raw)) throw new ApiError('not_found', 'No such upload.');
  return Number(raw);
}

/** A header holding a non-negative integer (a structured-field Integer for the IETF draft); undefined when absent. */
export function integerHeader(request: FastifyRequest, name: string): number | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value.trim())) {
    throw new ApiError('invalid_parameter', `The ${name} header must be a non-negative integer.`, { parameter: name });
  }
  return Number(value.trim());
}

export function stringHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** RFC 9110 date, as tus `Upload-Expires` wants it. */
export function httpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString();
}

/** What went wrong, as a protocol maps it: an error of the API's table, a protocol conflict, or a bug (500). */
export type ProtocolFailure = { kind: 'api'; error: ApiError } | { kind: 'conflict'; error: UploadConflict } | { kind: 'bug'; error: unknown };

export function classify(error: unknown): ProtocolFailure {
  if (error instanceof UploadConflict) return { kind: 'conflict', error };
  const api = toApiError(error);
  return api ? { kind: 'api', error: api } : { kind: 'bug', error };
}

/**
 * Sends an interim (1xx) response before the final one. Node's ServerResponse has helpers
 * only for 100, 102 and 103, so the status line and fields are written to the socket
 * directly; HTTP/1.1 only, and only while the final response has not started.
 */
export function sendInterim(reply: FastifyReply, status: number, reason: string, headers: Record<string, string>): void {
  const raw = reply.raw;
  const socket = raw.socket;
  if (raw.headersSent || !socket || socket.destroyed || raw.req.httpVersionMajor !== 1 || raw.req.httpVersionMinor !== 1) return;
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value.replace(/[\r\n]/g, '')}\r\n`;
  socket.write(`${head}\r\n`);
}

/** Answers with a plain-text body; the connection closes if the request body was not read to its end. */
export function sendPlain(request: FastifyRequest, reply: FastifyReply, status: number, text: string): FastifyReply {
  if (!request.raw.complete) reply.header('connection', 'close');
  return reply.code(status).type('text/plain; charset=utf-8').send(text.endsWith('\n') ? text : `${text}\n`);
}
