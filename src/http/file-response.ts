/** Serves a stored file with Content-Type, Content-Length, ETag and single byte ranges (206/416). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobStore, MediaFileRecord } from '../domain/ports.js';
import { errorEnvelope } from './envelope.js';

type ByteWindow = { start: number; end: number } | 'unsatisfiable' | null;

/** Parses a Range header for one range; null means "send everything" (absent or not understood). */
export function parseRange(header: string | undefined, size: number): ByteWindow {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null; // several ranges or another unit: the whole file is a valid answer
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(size, Number(last) + 1);
  if (start >= size || end <= start) return 'unsatisfiable';
  return { start, end };
}

function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function sendStoredFile(
  request: FastifyRequest,
  reply: FastifyReply,
  store: BlobStore,
  file: Pick<MediaFileRecord, 'storageKey' | 'contentType' | 'filename' | 'size' | 'sha1'>,
  cacheControl: 'public' | 'private',
): FastifyReply {
  const etag = `"${file.sha1}"`;
  reply
    .header('content-type', file.contentType)
    .header('etag', etag)
    .header('accept-ranges', 'bytes')
    .header('x-content-type-options', 'nosniff')
    .header('content-disposition', contentDisposition(file.filename))
    .header('cache-control', `${cacheControl}, max-age=0, must-revalidate`);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) {
    return reply.code(304).send();
  }
  const ifRange = request.headers['if-range'];
  const window = ifRange !== undefined && ifRange !== etag ? null : parseRange(request.headers.range, file.size);
  if (window === 'unsatisfiable') {
    return reply
      .code(416)
      .header('content-range', `bytes */${file.size}`)
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', null)
      .send(errorEnvelope('range_not_satisfiable', `The file has ${file.size} bytes.`, { size: file.size }));
  }
  if (window === null) {
    return reply.header('content-length', file.size).send(store.openRead(file.storageKey));
  }
  return reply
    .code(206)
    .header('content-range', `bytes ${window.start}-${window.end - 1}/${file.size}`)
    .header('content-length', window.end - window.start)
    .send(store.openRead(file.storageKey, window));
}
