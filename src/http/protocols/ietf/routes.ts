/**
 * IETF Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload) at /files/:
 * creation with the 104 interim response, offset retrieval, appending, completion and
 * cancellation, for interop versions 3 to 8 (see versions.ts for what differs).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import type { AttachmentRecord } from '../../../domain/attachments/ports.js';
import type { RepresentationDigests } from '../../../domain/protocols/ports.js';
import { type ResumableUploads, type Upload, uploadOffset } from '../../../domain/protocols/resumable-uploads.js';
import { cleanFilename } from '../../uploaded-files.js';
import { abortOnClose, bodyStream, contentLength, hasBody, releaseBodyPiece } from '../../request-body.js';
import { classify, sendInterim, sendPlain, uploadId, uploadLocation } from '../shared.js';
import { contentDigests, representationDigests, sendReprDigest } from './digest-fields.js';
import { ietfAnswer } from './errors.js';
import { parseItem } from './structured-fields.js';
import { appendCompletes, checkAppendType, INTEROP_HEADER, requestCompletes, setComplete, sfNonNegativeInteger, type InteropVersion } from './versions.js';

const NO_DIGESTS: RepresentationDigests = { expected: [], wanted: [] };

/** Content types that label bytes rather than say what the file is. */
const NOT_A_FILE_TYPE = new Set(['application/partial-upload', 'application/octet-stream', 'application/offset+octet-stream']);

export class IetfProtocol {
  private readonly uploads: ResumableUploads;

  constructor(uploads: ResumableUploads) {
    this.uploads = uploads;
  }

  /** `Upload-Limit`: the largest upload, and how long an idle one lives. */
  get limits(): string {
    return `max-size=${this.uploads.maxSize}, max-age=${Math.round(this.uploads.idleTimeoutMs / 1000)}`;
  }

  async create(request: FastifyRequest, reply: FastifyReply, userId: number, version: InteropVersion): Promise<FastifyReply> {
    const completes = requestCompletes(request, version) ?? false;
    const declared = declaredLength(request);
    const length = contentLength(request);
    // With the whole representation in this request, its Content-Length is the length too.
    if (completes && declared !== undefined && length !== undefined && declared !== length) {
      throw new ApiError('size_mismatch', `Upload-Length is ${declared} but the complete content is ${length} bytes.`);
    }
    const size = declared ?? (completes ? length : undefined) ?? null;
    if (size === 0) throw emptyUpload();
    const representation = representationDigests(request);
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let upload = await this.uploads.create(userId, {
      size,
      filename: cleanFilename(dispositionFilename(request.headers['content-disposition'])) ?? 'upload',
      contentType: type && !NOT_A_FILE_TYPE.has(type) ? type : null,
      metadata: null,
      partial: false,
      digests: representation,
    });
    const location = uploadLocation(upload.record);
    // The client may resume from here even if this request breaks off.
    sendInterim(reply, 104, 'Upload Resumption Supported', { location, [INTEROP_HEADER]: String(version), 'upload-limit': this.limits });
    if (hasBody(request)) upload = await this.uploads.append(userId, upload.record.id, this.appendInput(request, reply, 0));
    if (completes) {
      upload = await this.completeCreated(userId, upload);
      // The digests asked for at creation are kept with the upload.
      sendReprDigest(reply, await this.uploads.checkRepresentation(userId, upload, NO_DIGESTS));
    }
    this.describe(reply, upload, version);
    return reply.code(201).header('location', location).send();
  }

  async head(reply: FastifyReply, userId: number, rawId: string, version: InteropVersion): Promise<FastifyReply> {
    const upload = await this.uploads.get(userId, uploadId(rawId));
    this.describe(reply, upload, version);
    if (upload.record.size !== null) reply.header('upload-length', String(upload.record.size));
    return reply.code(204).header('cache-control', 'no-store').send();
  }

  async patch(request: FastifyRequest, reply: FastifyReply, userId: number, rawId: string, version: InteropVersion): Promise<FastifyReply> {
    checkAppendType(request, version);
    const offset = sfNonNegativeInteger(request, 'upload-offset');
    if (offset === undefined) throw new ApiError('missing_parameter', 'Upload-Offset is required.', { parameter: 'Upload-Offset' });
    const id = uploadId(rawId);
    const completes = appendCompletes(request, version);
    const declared = declaredLength(request);
    const length = contentLength(request);
    // Completing with a known Content-Length says the length too; refuse a disagreement before any byte.
    if (completes && declared !== undefined && length !== undefined && offset + length !== declared) {
      throw new ApiError('size_mismatch', `Upload-Length is ${declared} but this request completes the upload at ${offset + length} bytes.`);
    }
    // An empty append only checks the offset (and may fix the length). A completing append with a
    // known length says the upload's length, checked against one known before any byte is taken.
    const bodyLength = hasBody(request) ? length : 0;
    const representation = representationDigests(request);
    let upload = await this.uploads.append(userId, id, {
      ...this.appendInput(request, reply, offset),
      length: bodyLength,
      size: declared ?? (completes && bodyLength !== undefined && offset + bodyLength > 0 ? offset + bodyLength : undefined),
      refuseIfComplete: true,
    });
    if (completes) {
      upload = await this.complete(userId, upload);
      sendReprDigest(reply, await this.uploads.checkRepresentation(userId, upload, representation));
    } else {
      await this.uploads.rememberDigests(id, representation);
    }
    this.describe(reply, upload, version);
    return reply.code(204).send();
  }

  async cancel(reply: FastifyReply, userId: number, rawId: string): Promise<FastifyReply> {
    await this.uploads.terminate(userId, uploadId(rawId));
    return reply.code(204).send();
  }

  fail(request: FastifyRequest, reply: FastifyReply, error: unknown, version: InteropVersion): FastifyReply {
    const failure = classify(error);
    if (failure.kind === 'bug') request.log.error({ err: error }, 'unhandled error in the IETF resumable upload protocol');
    const answer = ietfAnswer(failure, { version, hasContent: hasBody(request) });
    reply.header(INTEROP_HEADER, String(version));
    const offsetConflict = failure.kind === 'conflict' && failure.error.reason === 'offset_mismatch' ? failure.error.offset : undefined;
    if (offsetConflict !== undefined) reply.header('upload-offset', String(offsetConflict));
    // Every answer to a creation or an append says whether it comes from processing the whole
    // representation (?1) or from the upload protocol (?0), errors included (interop 7 on).
    const appendOrCreate = request.method === 'PATCH' || request.method === 'POST';
    if ((appendOrCreate && version >= 4) || answer.processed || answer.status === 409 || answer.problem !== undefined) setComplete(reply, version, answer.processed ?? false);
    if (answer.status === 413) reply.header('upload-limit', this.limits);
    if (answer.problem !== undefined) {
      if (!request.raw.complete) reply.header('connection', 'close');
      const problem: Record<string, unknown> = { type: answer.problem, title: answer.text };
      if (offsetConflict !== undefined) {
        problem['expected-offset'] = offsetConflict;
        const provided = parseItem(String(request.headers['upload-offset'] ?? ''))?.value;
        if (typeof provided === 'number') problem['provided-offset'] = provided;
      }
      return reply.code(answer.status).type('application/problem+json').send(JSON.stringify(problem));
    }
    return sendPlain(request, reply, answer.status, answer.text);
  }

  /** Completion in the creating request; if the representation is refused, the upload announced by the 104 goes too. */
  private async completeCreated(userId: number, upload: Upload): Promise<Upload> {
    try {
      return await this.complete(userId, upload);
    } catch (error) {
      if (error instanceof ApiError) await this.uploads.terminate(userId, upload.record.id).catch(() => undefined);
      throw error;
    }
  }

  /** The client says it has sent everything: the length is what arrived, and must agree with one given before. */
  private async complete(userId: number, upload: Upload): Promise<Upload> {
    const offset = uploadOffset(upload.record);
    if (offset === 0) throw emptyUpload();
    if (upload.record.size === null) return this.uploads.setLength(userId, upload.record.id, offset);
    if (offset !== upload.record.size) {
      throw new ApiError('size_mismatch', `The upload was declared complete at ${offset} bytes, but its length is ${upload.record.size}.`);
    }
    return upload;
  }

  private appendInput(request: FastifyRequest, reply: FastifyReply, offset: number) {
    return {
      offset,
      source: bodyStream(request),
      length: contentLength(request),
      size: declaredLength(request),
      digests: contentDigests(request),
      signal: abortOnClose(reply),
      releasePiece: releaseBodyPiece,
    };
  }

  private describe(reply: FastifyReply, { record }: Upload, version: InteropVersion): void {
    reply
      .header(INTEROP_HEADER, String(version))
      .header('upload-offset', String(uploadOffset(record)))
      .header('upload-limit', this.limits);
    setComplete(reply, version, isComplete(record));
  }
}

function isComplete(record: AttachmentRecord): boolean {
  return record.state !== 'uploading';
}

/** The filename parameter of a Content-Disposition header, if any. */
function dispositionFilename(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim());
    } catch {
      return undefined;
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
  return plain ? (plain[1] ?? plain[2]) : undefined;
}

/** `Upload-Length`; 0 is an empty representation. */
function declaredLength(request: FastifyRequest): number | undefined {
  const length = sfNonNegativeInteger(request, 'upload-length');
  if (length === 0) throw emptyUpload();
  return length;
}

/** An empty representation: refused on every protocol, as /attachments refuses size 0. */
function emptyUpload(): ApiError {
  return new ApiError('invalid_parameter', 'An upload needs at least one byte; an empty representation cannot be stored.', { parameter: 'Upload-Length' });
}
