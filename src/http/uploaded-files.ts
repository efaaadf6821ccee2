/**
 * Requests that carry whole files (SPEC 3.7): each wanted file part streams into a
 * scratch file, hashed on the way, and becomes a blob without another copy. Where a
 * file is expected the client may instead send {chunked_attachment_id, fingerprint}.
 */
import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { Type, type StaticDecode, type TSchema } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import { ApiError, missingParameter } from '../domain/errors.js';
import type { UploadedFile } from '../domain/media/media-intake.js';
import type { BlobStore } from '../domain/storage/ports.js';
import { decodeParams, FieldCollector, FilePart, IntegerParam, mergeParams, Sha1Param } from './params.js';

export interface ReceivedFile {
  storageKey: string;
  filename: string;
  size: number;
  sha1: string;
}

export const AttachmentRef = Type.Object({
  chunked_attachment_id: IntegerParam({ minimum: 1, description: 'the id of a chunked attachment, a whole number from 1' }),
  fingerprint: Type.Optional(Sha1Param),
});

/** A file parameter: a multipart file part, or a reference to a chunked attachment. */
export const FileParam = Type.Union([AttachmentRef, FilePart]);

async function receiveFile(store: BlobStore, source: AsyncIterable<Buffer>, filename: string, maxSize: number): Promise<ReceivedFile> {
  const scratch = await store.createScratch();
  const hash = createHash('sha1');
  let size = 0;
  try {
    for await (const piece of source) {
      if (size + piece.length > maxSize) throw new ApiError('request_too_large', `A file may be at most ${maxSize} bytes.`, { max_size: maxSize });
      await scratch.write(piece, size);
      hash.update(piece);
      size += piece.length;
    }
    return { storageKey: await store.adoptScratch(scratch), filename, size, sha1: hash.digest('hex') };
  } catch (error) {
    await scratch.discard();
    throw error;
  }
}

/**
 * Reads every parameter of a request, storing the file parts named in `fileFields`.
 * If anything fails, the blobs made so far are deleted before the error goes on.
 */
export async function readParamsAndFiles(
  request: FastifyRequest,
  store: BlobStore,
  fileFields: string[],
  maxSize: number,
): Promise<{ params: Record<string, unknown>; files: Map<string, ReceivedFile> }> {
  const files = new Map<string, ReceivedFile>();
  if (!request.isMultipart()) return { params: mergeParams(request.query, request.body), files };
  const fields = new FieldCollector(request.query);
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        fields.add(part);
      } else if (fileFields.includes(part.fieldname) && !files.has(part.fieldname)) {
        files.set(part.fieldname, await receiveFile(store, part.file, cleanFilename(part.filename) ?? 'upload', maxSize));
      } else {
        part.file.resume();
        await finished(part.file);
      }
    }
    return { params: fields.params(), files };
  } catch (error) {
    for (const file of files.values()) await store.deleteBlob(file.storageKey).catch(() => undefined);
    throw error;
  }
}

/**
 * The UploadedFile for a parameter such as audio_clip[uploaded_data]: the file part if
 * there was one, else the attachment reference in the params; null if neither.
 */
export function uploadedFile(params: Record<string, unknown>, files: Map<string, ReceivedFile>, scope: string, name: string): UploadedFile | null {
  const parameter = `${scope}[${name}]`;
  const received = files.get(parameter);
  if (received) return { kind: 'blob', parameter, ...received };
  const value = ((params[scope] ?? {}) as Record<string, unknown>)[name];
  if (value === undefined) return null;
  const ref = decodeParams(Type.Object({ [scope]: Type.Object({ [name]: AttachmentRef }) }), { [scope]: { [name]: value } })[scope]![name]!;
  return { kind: 'attachment', parameter, attachmentId: ref.chunked_attachment_id, fingerprint: ref.fingerprint };
}

export function requireFile(file: UploadedFile | null, parameter: string): UploadedFile {
  if (!file) throw missingParameter(parameter);
  return file;
}

/** The last path segment of a client's file name, without control characters. */
export function cleanFilename(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? undefined : clean;
}

/**
 * A create request with an audio file and an optional image under `scope` (audio_clip,
 * message): its decoded params and both files. Blobs made for a request that fails here
 * are deleted.
 */
export async function readMediaRequest<S extends TSchema>(
  request: FastifyRequest,
  store: BlobStore,
  scope: string,
  schema: S,
  maxSize: number,
): Promise<{ params: StaticDecode<S>; audio: UploadedFile; image: UploadedFile | null }> {
  const { params, files } = await readParamsAndFiles(request, store, [`${scope}[uploaded_data]`, `${scope}[uploaded_image]`], maxSize);
  try {
    return {
      params: decodeParams(schema, params),
      audio: requireFile(uploadedFile(params, files, scope, 'uploaded_data'), `${scope}[uploaded_data]`),
      image: uploadedFile(params, files, scope, 'uploaded_image'),
    };
  } catch (error) {
    for (const file of files.values()) await store.deleteBlob(file.storageKey).catch(() => undefined);
    throw error;
  }
}
