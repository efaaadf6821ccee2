/**
 * Reads a multipart body that carries one file of interest among ordinary fields.
 *
 * When the fields needed to place the file have arrived before it, the file streams
 * straight to its consumer; fields after it are handed over as "trailing" params once
 * the body has ended. When they have not, the file is staged in a scratch file and
 * handed over after the body, with every field known.
 */
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import type { BlobStore, ScratchFile } from '../domain/storage/ports.js';
import { readHandle } from '../domain/storage/read-handle.js';
import { FieldCollector } from './params.js';

export interface IncomingFile {
  source: AsyncIterable<Buffer>;
  filename: string;
  mimetype: string;
}

export interface MultipartFileHandlers<T> {
  fileField: string;
  /** True when the params known so far are enough to stream the file in place. */
  canStream(params: Record<string, unknown>): boolean;
  onFile(params: Record<string, unknown>, file: IncomingFile, trailing: () => Promise<Record<string, unknown>>): Promise<T>;
  onNoFile(params: Record<string, unknown>): Promise<T>;
}

/** How much of a staged file part one read takes. */
const STAGED_READ = 256 * 1024;

async function stage(store: BlobStore, file: Readable): Promise<{ scratch: ScratchFile; length: number }> {
  const scratch = await store.createScratch();
  let length = 0;
  try {
    for await (const piece of file as AsyncIterable<Buffer>) {
      await scratch.write(piece, length);
      length += piece.length;
    }
    return { scratch, length };
  } catch (error) {
    await scratch.discard();
    throw error;
  }
}

export async function readMultipartFile<T>(request: FastifyRequest, store: BlobStore, handlers: MultipartFileHandlers<T>): Promise<T> {
  const fields = new FieldCollector(request.query);
  let resolveTrailing!: (params: Record<string, unknown>) => void;
  let rejectTrailing!: (error: unknown) => void;
  const trailing = new Promise<Record<string, unknown>>((resolve, reject) => {
    resolveTrailing = resolve;
    rejectTrailing = reject;
  });
  trailing.catch(() => undefined); // only a consumer that got all its bytes asks for it
  let streaming: Promise<T> | null = null;
  let staged: { scratch: ScratchFile; length: number; filename: string; mimetype: string } | null = null;

  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        fields.add(part);
        continue;
      }
      if (part.fieldname !== handlers.fileField || streaming || staged) {
        part.file.resume(); // a file we do not want: let it pass
        await finished(part.file);
        continue;
      }
      const params = fields.params();
      if (!handlers.canStream(params)) {
        staged = { ...(await stage(store, part.file)), filename: part.filename, mimetype: part.mimetype };
        continue;
      }
      streaming = handlers.onFile(params, { source: part.file, filename: part.filename, mimetype: part.mimetype }, () => trailing);
      // Go on with the next part once the file is consumed, or stop if the consumer failed.
      const outcome = await Promise.race([
        finished(part.file).then(
          () => 'consumed',
          () => 'consumed',
        ),
        streaming.then(
          () => 'consumed',
          () => 'failed',
        ),
      ]);
      if (outcome === 'failed') {
        part.file.resume();
        return await streaming;
      }
    }
  } catch (error) {
    if (!streaming) throw error;
    // The rest of the body is bad or broke off: fields that may have followed are unknown,
    // so a consumer that got all its bytes must not accept them.
    rejectTrailing(error);
    return await streaming;
  }
  resolveTrailing(fields.params());
  if (streaming) return await streaming;
  if (!staged) return handlers.onNoFile(fields.params());
  const { scratch, length, filename, mimetype } = staged;
  try {
    const params = fields.params();
    return await handlers.onFile(params, { source: readHandle(scratch, 0, length, STAGED_READ), filename, mimetype }, async () => params);
  } finally {
    await scratch.discard();
  }
}
