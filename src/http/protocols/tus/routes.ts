/**
 * tus 1.0.0 at /files/: core, creation, creation-with-upload, creation-defer-length,
 * termination, expiration, checksum (sha1, sha256) and concatenation. Headers in, calls to
 * ResumableUploads out: the protocol's rules (offsets, concatenation) live there, in
 * src/domain/protocols/, and every rule about bytes in the upload engine below it.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import type { ExpectedDigest } from '../../../domain/protocols/digests.js';
import type { ResumableUploads, Upload } from '../../../domain/protocols/resumable-uploads.js';
import { uploadOffset } from '../../../domain/protocols/resumable-uploads.js';
import { cleanFilename } from '../../uploaded-files.js';
import { abortOnClose, bodyStream, contentLength, hasBody, releaseBodyPiece } from '../../request-body.js';
import { classify, httpDate, integerHeader, sendPlain, stringHeader, uploadId, uploadLocation, FILES_PATH } from '../shared.js';
import { tusStatus } from './errors.js';
import { fileFromMetadata, parseUploadMetadata } from './metadata.js';

export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum', 'concatenation'];
const OFFSET_STREAM = 'application/offset+octet-stream';

export class TusProtocol {
  private readonly uploads: ResumableUploads;

  constructor(uploads: ResumableUploads) {
    this.uploads = uploads;
  }

  /** Discovery: versions, extensions, limits. No Tus-Resumable needed on the request. */
  options(reply: FastifyReply): FastifyReply {
    return reply
      .code(204)
      .header('tus-resumable', TUS_VERSION)
      .header('tus-version', TUS_VERSION)
      .header('tus-extension', TUS_EXTENSIONS.join(','))
      .header('tus-max-size', String(this.uploads.maxSize))
      .header('tus-checksum-algorithm', CHECKSUM_ALGORITHMS.join(','))
      .send();
  }

  /** Every request but OPTIONS names the protocol version; another is 412. */
  checkVersion(request: FastifyRequest, reply: FastifyReply): boolean {
    if (request.headers['tus-resumable'] === TUS_VERSION) return true;
    reply.header('tus-version', TUS_VERSION);
    sendPlain(request, reply, 412, `Tus-Resumable must be ${TUS_VERSION}.`);
    return false;
  }

  async create(request: FastifyRequest, reply: FastifyReply, userId: number): Promise<FastifyReply> {
    const metadataHeader = stringHeader(request, 'upload-metadata');
    const metadata = parseUploadMetadata(metadataHeader);
    const file = fileFromMetadata(metadata);
    const filename = cleanFilename(file.filename) ?? 'upload';
    const concat = stringHeader(request, 'upload-concat');
    if (concat?.startsWith('final;')) {
      const parts = finalParts(request, concat.slice('final;'.length));
      const upload = await this.uploads.concatenate(userId, parts, { filename, contentType: file.contentType, metadata: metadataHeader ?? null });
      return this.created(reply, upload);
    }
    if (concat !== undefined && concat !== 'partial') throw new ApiError('invalid_parameter', 'Upload-Concat must be "partial" or "final;<urls>".', { parameter: 'Upload-Concat' });

    const length = uploadLength(request);
    const deferred = request.headers['upload-defer-length'];
    if (deferred !== undefined && deferred !== '1') throw new ApiError('invalid_parameter', 'Upload-Defer-Length must be 1.', { parameter: 'Upload-Defer-Length' });
    if ((length === undefined) === (deferred === undefined)) {
      throw new ApiError('invalid_parameter', 'Send either Upload-Length or Upload-Defer-Length: 1.', { parameter: 'Upload-Length' });
    }
    let upload = await this.uploads.create(userId, { size: length ?? null, filename, contentType: file.contentType, metadata: metadataHeader ?? null, partial: concat === 'partial' });
    // creation-with-upload: the body is the first bytes.
    if (hasBody(request) && request.headers['content-type'] === OFFSET_STREAM) {
      upload = await this.uploads.append(userId, upload.record.id, this.appendInput(request, reply, 0));
    }
    return this.created(reply, upload);
  }

  async head(request: FastifyRequest, reply: FastifyReply, userId: number, rawId: string): Promise<FastifyReply> {
    const upload = await this.uploads.get(userId, uploadId(rawId));
    this.describe(reply, upload);
    if (upload.record.size === null) reply.header('upload-defer-length', '1');
    else reply.header('upload-length', String(upload.record.size));
    if (upload.extras.metadata !== null) reply.header('upload-metadata', upload.extras.metadata);
    const concat = upload.extras.concat;
    if (concat?.kind === 'partial') reply.header('upload-concat', 'partial');
    if (concat?.kind === 'final') reply.header('upload-concat', `final;${concat.parts.map((id) => `${FILES_PATH}${id}`).join(' ')}`);
    return reply.code(200).header('cache-control', 'no-store').send();
  }

  async patch(request: FastifyRequest, reply: FastifyReply, userId: number, rawId: string): Promise<FastifyReply> {
    if (request.headers['content-type'] !== OFFSET_STREAM) {
      return this.fail(request, reply, new ApiError('unsupported_media_type', `PATCH needs Content-Type: ${OFFSET_STREAM}.`));
    }
    const offset = integerHeader(request, 'upload-offset');
    if (offset === undefined) throw new ApiError('missing_parameter', 'Upload-Offset is required.', { parameter: 'Upload-Offset' });
    const upload = await this.uploads.append(userId, uploadId(rawId), this.appendInput(request, reply, offset));
    this.describe(reply, upload);
    return reply.code(204).send();
  }

  async terminate(reply: FastifyReply, userId: number, rawId: string): Promise<FastifyReply> {
    await this.uploads.terminate(userId, uploadId(rawId));
    return reply.code(204).header('tus-resumable', TUS_VERSION).send();
  }

  fail(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
    const failure = classify(error);
    if (failure.kind === 'bug') request.log.error({ err: error }, 'unhandled error in tus');
    const { status, text } = tusStatus(failure);
    if (failure.kind === 'conflict' && failure.error.offset !== undefined) reply.header('upload-offset', String(failure.error.offset));
    return sendPlain(request, reply.header('tus-resumable', TUS_VERSION), status, text);
  }

  private appendInput(request: FastifyRequest, reply: FastifyReply, offset: number) {
    return {
      offset,
      source: bodyStream(request),
      length: contentLength(request),
      digests: uploadChecksum(stringHeader(request, 'upload-checksum')),
      size: uploadLength(request),
      signal: abortOnClose(reply),
      releasePiece: releaseBodyPiece,
    };
  }

  private created(reply: FastifyReply, upload: Upload): FastifyReply {
    this.describe(reply, upload);
    return reply.code(201).header('location', uploadLocation(upload.record)).send();
  }

  private describe(reply: FastifyReply, { record }: Upload): void {
    reply.header('tus-resumable', TUS_VERSION).header('upload-offset', String(uploadOffset(record)));
    if (record.expiresAt !== null && record.state === 'uploading') reply.header('upload-expires', httpDate(record.expiresAt));
  }
}

/**
 * The partial uploads a final upload names (`Upload-Concat: final;<url> <url>`): each URL,
 * relative or absolute, must name an upload of this server (`/files/<id>` on the request's
 * host), and each at most once.
 */
function finalParts(request: FastifyRequest, urls: string): number[] {
  const invalid = (reason: string) => new ApiError('invalid_parameter', `Upload-Concat: ${reason}`, { parameter: 'Upload-Concat' });
  const listed = urls.trim().split(/\s+/).filter((url) => url !== '');
  if (listed.length === 0) throw invalid('final needs the partial uploads.');
  const ids = listed.map((url) => {
    let parsed: URL;
    try {
      parsed = new URL(url, `http://${request.host}`);
    } catch {
      throw invalid(`${url} is not a URL.`);
    }
    const match = new RegExp(`^${FILES_PATH}([1-9][0-9]{0,14})$`).exec(parsed.pathname);
    if (!match || parsed.host !== request.host || parsed.search !== '' || parsed.hash !== '') {
      throw invalid(`${url} does not name an upload on this server (${FILES_PATH}<id>).`);
    }
    return Number(match[1]);
  });
  if (new Set(ids).size !== ids.length) throw invalid('a partial upload may appear only once in a final upload.');
  return ids;
}

/** The checksum extension's algorithms: tus names, and the digest each is. */
const CHECKSUM_ALGORITHMS = ['sha1', 'sha256'] as const;

/** `Upload-Checksum: <algorithm> <base64 digest>`; an algorithm not advertised is 400. */
function uploadChecksum(header: string | undefined): ExpectedDigest[] | undefined {
  if (header === undefined) return undefined;
  const [name, value, extra] = header.trim().split(' ');
  const algorithm = CHECKSUM_ALGORITHMS.find((known) => known === name?.toLowerCase());
  if (algorithm === undefined || extra !== undefined) {
    throw new ApiError('invalid_parameter', `Upload-Checksum must be "<algorithm> <base64 digest>" with one of: ${CHECKSUM_ALGORITHMS.join(', ')}.`, { parameter: 'Upload-Checksum' });
  }
  const digest = Buffer.from(value ?? '', 'base64');
  if (digest.length !== createHash(algorithm).digest().length || !/^[A-Za-z0-9+/]+={0,2}$/.test(value ?? '')) {
    throw new ApiError('invalid_parameter', `Upload-Checksum does not hold a base64 ${algorithm} digest.`, { parameter: 'Upload-Checksum' });
  }
  return [{ algorithm, value: digest }];
}

/** `Upload-Length`, at creation or fixing a deferred length: an empty upload is refused (as /attachments refuses size 0). */
function uploadLength(request: FastifyRequest): number | undefined {
  const length = integerHeader(request, 'upload-length');
  if (length === 0) throw new ApiError('invalid_parameter', 'Upload-Length must be at least 1: an upload cannot be empty.', { parameter: 'Upload-Length' });
  return length;
}
