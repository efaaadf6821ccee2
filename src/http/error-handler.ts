/** Maps every failure to the error envelope, once, for the whole app. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_TABLE, type ErrorName } from '../domain/errors.js';
import { STORAGE_UNAVAILABLE } from '../domain/storage/ports.js';
import { errorEnvelope } from './envelope.js';

/** Fastify's and its plugins' own errors, by code. */
const FRAMEWORK_ERRORS: Record<string, ErrorName> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request_too_large',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'malformed_body',
  FST_PROTO_VIOLATION: 'malformed_body',
  FST_PARTS_LIMIT: 'request_too_large',
  FST_FILES_LIMIT: 'request_too_large',
  FST_FIELDS_LIMIT: 'request_too_large',
  FST_REQ_FILE_TOO_LARGE: 'request_too_large',
  FST_ERR_BAD_URL: 'not_found',
  FST_ERR_ASYNC_CONSTRAINT: 'malformed_body',
};

/** System errors that mean the disk (or the user's quota) is full. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);
/** System errors that mean the client went away mid-request. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

export function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  const e = error as Partial<FastifyError> & { message?: string };
  if (e.code && OUT_OF_SPACE.has(e.code)) {
    return new ApiError('insufficient_storage', 'The server ran out of storage space; the bytes written before it did are kept.');
  }
  if (e.code === STORAGE_UNAVAILABLE) return new ApiError('storage_unavailable', `The storage did not answer in time; try again shortly (${e.message ?? 'no answer'}).`);
  if ((e.code && CONNECTION_LOST.has(e.code)) || e.message === 'aborted') {
    return new ApiError('malformed_body', 'The request body ended before it was complete.');
  }
  const name = e.code ? FRAMEWORK_ERRORS[e.code] : undefined;
  if (name) return new ApiError(name, undefined, undefined);
  // Body parsers report malformed input with a 4xx status and no known code.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new ApiError('request_too_large');
    if (e.statusCode === 415) return new ApiError('unsupported_media_type');
    return new ApiError('malformed_body', `The request body could not be parsed: ${e.message ?? 'malformed'}.`);
  }
  // Multipart (busboy) parse failures.
  if (typeof e.message === 'string' && /multipart|boundary|Unexpected end of form|Malformed part header/i.test(e.message)) {
    return new ApiError('malformed_body', `The multipart body could not be parsed: ${e.message}.`);
  }
  return null;
}

/** OAuth endpoints (route config `errorFormat: 'oauth'`) answer errors as RFC 6749 section 5.2 says. */
function usesOAuthErrors(request: FastifyRequest): boolean {
  return (request.routeOptions.config as { errorFormat?: string } | undefined)?.errorFormat === 'oauth';
}

function oauthError(error: ApiError): { error: string; error_description: string } {
  // RFC 6749 has no code for a rate limit; `rate_limited` is the API's own name for it.
  const code = error.status === 429 ? 'rate_limited' : error.status >= 500 ? 'server_error' : 'invalid_request';
  return { error: code, error_description: error.message };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = toApiError(error);
    if (!apiError) {
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(usesOAuthErrors(request) ? { error: 'server_error', error_description: ERROR_TABLE.internal_error.description } : errorEnvelope('internal_error'));
    }
    const send = () => {
      if (!request.raw.complete) {
        // The body was not read to its end: the connection cannot carry another request.
        reply.header('connection', 'close');
      }
      const body = usesOAuthErrors(request) ? oauthError(apiError) : errorEnvelope(apiError.errorName, apiError.message, apiError.details);
      return reply.code(apiError.status).send(body);
    };
    if (request.raw.complete || request.raw.destroyed) return send();
    // Read (and drop) a little more of the body first: a client that is still sending would
    // otherwise see a reset instead of the answer. Bounded, so a huge body is cut off soon.
    return drainBriefly(request.raw).then(send);
  });
}

const DRAIN_LIMIT_BYTES = 1024 * 1024;
const DRAIN_LIMIT_MS = 1000;

function drainBriefly(stream: FastifyRequest['raw']): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', finish);
      stream.off('error', finish);
      stream.off('close', finish);
      stream.pause();
      resolve();
    };
    const onData = (piece: Buffer) => {
      seen += piece.length;
      if (seen > DRAIN_LIMIT_BYTES) finish();
    };
    const timer = setTimeout(finish, DRAIN_LIMIT_MS);
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('error', finish);
    stream.once('close', finish);
    stream.resume();
  });
}
