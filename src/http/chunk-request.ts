/**
 * The REST chunk edge (SPEC 3): a POST or PUT to /attachments carries its chunk as a raw
 * application/octet-stream body (parameters in the query), as the file part of a multipart
 * body, or not at all (a form or JSON body of parameters only: a creation without bytes, or
 * a size-only change). readChunkRequest reads any of them into one shape, so the routes decide
 * only what the chunk is for.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import type { ChunkInput } from '../domain/attachments/upload-engine.js';
import type { BlobStore } from '../domain/storage/ports.js';
import { readMultipartFile } from './multipart-file.js';
import { decodeParams, FilePart, IntegerParam, Sha1Param } from './params.js';
import { abortOnClose, bodyStream, contentLength, releaseBodyPiece } from './request-body.js';
import { readParams } from './request-params.js';

/** The parameters of a chunk, in the attachment[...] scope of POST and PUT. */
export const ChunkFields = {
  chunk: Type.Optional(FilePart),
  chunk_offset: Type.Optional(IntegerParam({ minimum: 0, description: 'the byte offset of the chunk, a whole number from 0' })),
  chunk_sha1: Type.Optional(Sha1Param),
};

/** A chunk to an attachment that exists (PUT), or parameters that follow a file part (either route). */
export const ChunkParams = Type.Object({
  attachment: Type.Object({
    ...ChunkFields,
    size: Type.Optional(
      IntegerParam({ minimum: 1, description: 'the total size: fixes a size not known at creation (alone or with a chunk), else must equal it' }),
    ),
  }),
});

/** What every route's decoded fields have: where the chunk goes, its SHA1, the attachment's size. */
export interface ChunkFieldValues {
  chunk_offset?: number | undefined;
  chunk_sha1?: string | undefined;
  size?: number | undefined;
}

/** A REST chunk request, read. */
export interface ChunkRequest<F extends ChunkFieldValues> {
  fields: F;
  /**
   * The chunk, at `fields.chunk_offset` (0 when not given); its `size` is left to the route.
   * Null when the request carries no bytes (a creation without a chunk, or a size-only change).
   */
  chunk: ChunkInput | null;
  /** The multipart file part's own name and type, when the chunk came as one. */
  file: { filename: string; mimetype: string } | null;
}

function isRaw(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/octet-stream');
}

/** Parameters after the file part (SHA1, size) are read once its bytes have passed. */
function trailingFrom(params: () => Promise<Record<string, unknown>>): ChunkInput['trailing'] {
  return async () => {
    const fields = decodeParams(ChunkParams, await params()).attachment;
    return { sha1: fields.chunk_sha1, size: fields.size };
  };
}

/**
 * Reads a POST or PUT to /attachments and hands it to `handle` while its chunk is still
 * arriving. `decode` checks the route's parameters (from the query for a raw body; the
 * fields before the file part for multipart, or every field if they all came first).
 * A multipart file part streams when attachment[chunk_offset] came before it, and is staged
 * in a scratch file otherwise, since a chunk cannot be placed before its offset is known.
 */
export async function readChunkRequest<F extends ChunkFieldValues, T>(
  request: FastifyRequest,
  reply: FastifyReply,
  store: BlobStore,
  decode: (params: unknown) => F,
  handle: (read: ChunkRequest<F>) => Promise<T>,
): Promise<T> {
  if (isRaw(request)) {
    const fields = decode(request.query);
    const chunk = {
      offset: fields.chunk_offset ?? 0,
      source: bodyStream(request),
      length: contentLength(request),
      sha1: fields.chunk_sha1,
      signal: abortOnClose(reply),
      releasePiece: releaseBodyPiece,
    };
    return handle({ fields, chunk, file: null });
  }
  if (!request.isMultipart()) return handle({ fields: decode(await readParams(request)), chunk: null, file: null });
  return readMultipartFile(request, store, {
    fileField: 'attachment[chunk]',
    canStream: (params) => ((params.attachment ?? {}) as Record<string, unknown>).chunk_offset !== undefined,
    onFile: async (params, file, trailing) => {
      const fields = decode(params);
      const chunk = { offset: fields.chunk_offset ?? 0, source: file.source, sha1: fields.chunk_sha1, trailing: trailingFrom(trailing), signal: abortOnClose(reply) };
      return handle({ fields, chunk, file: { filename: file.filename, mimetype: file.mimetype } });
    },
    onNoFile: async (params) => handle({ fields: decode(params), chunk: null, file: null }),
  });
}
