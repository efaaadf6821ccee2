/**
 * The few HTTP calls the client makes, on node:http. Bodies are written by a
 * callback so a chunk can stream from the source file instead of sitting in memory.
 */
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type BodyWriter = (request: http.ClientRequest) => Promise<void>;

/** Read size for streaming a chunk: big reads keep the client's per-byte CPU low, since it shares 2 cores with the server. */
const READ_SIZE = 512 * 1024;

export function bufferBody(body: string | Buffer): BodyWriter {
  return async (request) => void request.end(body);
}

/** Streams bytes [start, start + length) of a file, optionally framed by a head and a tail (multipart). */
export function fileBody(filePath: string, start: number, length: number, head?: Buffer, tail?: Buffer): BodyWriter {
  return async (request) => {
    if (head) request.write(head);
    const file = createReadStream(filePath, { start, end: start + length - 1, highWaterMark: READ_SIZE });
    await pipeline(file, request, { end: tail === undefined });
    if (tail) request.end(tail);
  };
}

export function send(
  agent: http.Agent,
  url: string,
  method: string,
  headers: http.OutgoingHttpHeaders,
  writeBody: BodyWriter = bufferBody(''),
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers, agent });
    request.on('error', reject);
    request.on('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(parts).toString('utf8') }));
    });
    writeBody(request).catch((error: unknown) => request.destroy(error instanceof Error ? error : new Error(String(error))));
  });
}

/** Throws with the server's words unless the status is the expected one. */
export function expectStatus(reply: HttpReply, expected: number, what: string): HttpReply {
  if (reply.status !== expected) throw new Error(`${what}: expected HTTP ${expected}, got ${reply.status}: ${reply.body.slice(0, 500)}`);
  return reply;
}
