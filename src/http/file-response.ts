/** Serves a stored file with Content-Type, Content-Length, ETag and single byte ranges (206/416). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.js';
import type { BlobStore } from '../domain/storage/ports.js';
import type { MediaFileRecord } from '../domain/media/ports.js';
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
  // A last position before the first makes the range invalid: ignored (RFC 9110 14.1.1), not 416.
  if (last !== '' && Number(last) < start) return null;
  const end = last === '' ? size : Math.min(size, Number(last) + 1);
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * The stream once its file is open. A file deleted after its record was read (the clip was
 * deleted meanwhile) is then a 404 before any header is sent; once open, it reads to the end.
 */
async function opened(stream: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
  if (!('pending' in stream) || stream.pending !== true) return stream;
  await new Promise<void>((resolve, reject) => {
    stream.once('ready', resolve);
    stream.once('error', reject);
  }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new ApiError('not_found', 'No such file; it was deleted.') : error;
  });
  return stream;
}

export async function sendStoredFile(
  request: FastifyRequest,
  reply: FastifyReply,
  store: BlobStore,
  file: Pick<MediaFileRecord, 'storageKey' | 'contentType' | 'filename' | 'size' | 'sha1'>,
  cacheControl: 'public' | 'private',
): Promise<FastifyReply> {
  const etag = `"${file.sha1}"`;
  const fileHeaders = () =>
    reply
      .header('content-type', file.contentType)
      .header('etag', etag)
      .header('accept-ranges', 'bytes')
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', contentDisposition(file.filename))
      .header('cache-control', `${cacheControl}, max-age=0, must-revalidate`);
  const ifNoneMatch = request.headers['if-none-match'];
  // If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
    return fileHeaders().code(304).send();
  }
  const ifRange = request.headers['if-range'];
  const window = ifRange !== undefined && ifRange !== etag ? null : parseRange(request.headers.range, file.size);
  if (window === 'unsatisfiable') {
    return fileHeaders()
      .code(416)
      .header('content-range', `bytes */${file.size}`)
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', null)
      .send(errorEnvelope('range_not_satisfiable', `The file has ${file.size} bytes.`, { size: file.size }));
  }
  // Opened before any header is set: a file deleted meanwhile answers a plain 404.
  const body = await opened(store.openRead(file.storageKey, window ?? undefined));
  if (window === null) return fileHeaders().header('content-length', file.size).send(body);
  return fileHeaders()
    .code(206)
    .header('content-range', `bytes ${window.start}-${window.end - 1}/${file.size}`)
    .header('content-length', window.end - window.start)
    .send(body);
}
