/**
 * Bodies must arrive as they are: a transfer coding other than chunked (`gzip, chunked`) or
 * a content coding (`Content-Encoding: gzip`) would otherwise be stored still compressed,
 * as if it were the file. Both are refused before the body is read (RFC 9110 15.5.16).
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.js';

export function rejectBodyCodings(request: FastifyRequest): void {
  const transfer = request.headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked') {
    throw new ApiError('unsupported_media_type', `Transfer-Encoding "${transfer}" is not supported; send the body as is (chunked at most).`, { transfer_encoding: transfer });
  }
  const content = request.headers['content-encoding'];
  if (content !== undefined && content.trim().toLowerCase() !== 'identity') {
    throw new ApiError('unsupported_media_type', `Content-Encoding "${content}" is not supported; send the bytes uncompressed.`, { content_encoding: content });
  }
}
