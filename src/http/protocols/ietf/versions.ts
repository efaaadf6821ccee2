/**
 * The interop versions of draft-ietf-httpbis-resumable-upload that clients ship, and
 * what changed between them that a server must honour:
 * - 3 (draft -01, iOS 17): completeness is `Upload-Incomplete` (inverted).
 * - 4 (draft -02) on: `Upload-Complete`.
 * - 6 (draft -04/-05, iOS 18, tus-js-client ietf-draft-05) on: appends carry
 *   `Content-Type: application/partial-upload`.
 * - 7 (drafts -06 to -08): an append must say Upload-Complete; every answer to a request that
 *   did not complete the upload carries Upload-Complete: ?0, errors included (sent for every
 *   version from 4 on: it is what the editor's copy after -11 asks of all answers).
 * - 8 (drafts -09 to -11): appending bytes to a completed upload is an inconsistent length.
 * Interop 9 (not yet published) would be one more entry here and in errors.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import { parseItem } from './structured-fields.js';

export const INTEROP_VERSIONS = [3, 4, 5, 6, 7, 8] as const;
export type InteropVersion = (typeof INTEROP_VERSIONS)[number];

export const INTEROP_HEADER = 'upload-draft-interop-version';

/** The interop version a request asks for, or null when it speaks no version this server knows (tus then). */
export function interopVersion(request: FastifyRequest): InteropVersion | null {
  const raw = request.headers[INTEROP_HEADER];
  if (typeof raw !== 'string') return null;
  const version = Number(raw.trim());
  return (INTEROP_VERSIONS as readonly number[]).includes(version) ? (version as InteropVersion) : null;
}

/**
 * A structured-field Boolean Item (`?1`, `?0`, parameters allowed); undefined when absent.
 * Anything else (`?2`, `1`, `true`, an empty value, the field twice) is a malformed request:
 * ignoring it would turn a completing append into an incomplete one or the reverse.
 */
function sfBoolean(request: FastifyRequest, name: string): boolean | undefined {
  const raw = request.headers[name];
  if (raw === undefined) return undefined;
  const item = typeof raw === 'string' ? parseItem(raw) : null;
  if (item === null || typeof item.value !== 'boolean') {
    throw new ApiError('invalid_parameter', `${headerName(name)} must be a structured-field Boolean: ?1 or ?0.`, { parameter: headerName(name) });
  }
  return item.value;
}

/** A structured-field Integer Item that must be non-negative (Upload-Offset, Upload-Length); undefined when absent. */
export function sfNonNegativeInteger(request: FastifyRequest, name: string): number | undefined {
  const raw = request.headers[name];
  if (raw === undefined) return undefined;
  const item = typeof raw === 'string' ? parseItem(raw) : null;
  if (item === null || typeof item.value !== 'number' || item.value < 0) {
    throw new ApiError('invalid_parameter', `${headerName(name)} must be a non-negative structured-field Integer.`, { parameter: headerName(name) });
  }
  return item.value;
}

function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** Whether the request says it completes the upload; undefined when it does not say. */
export function requestCompletes(request: FastifyRequest, version: InteropVersion): boolean | undefined {
  if (version === 3) {
    const incomplete = sfBoolean(request, 'upload-incomplete');
    return incomplete === undefined ? undefined : !incomplete;
  }
  return sfBoolean(request, 'upload-complete');
}

/** An append must say whether it completes the upload (draft -06 on, interop 7 on: "MUST include"). */
export function appendCompletes(request: FastifyRequest, version: InteropVersion): boolean {
  const completes = requestCompletes(request, version);
  if (completes === undefined && version >= 7) {
    throw new ApiError('missing_parameter', 'An append needs Upload-Complete: ?0 or ?1.', { parameter: 'Upload-Complete' });
  }
  return completes ?? false;
}

export function setComplete(reply: FastifyReply, version: InteropVersion, complete: boolean): void {
  if (version === 3) reply.header('upload-incomplete', complete ? '?0' : '?1');
  else reply.header('upload-complete', complete ? '?1' : '?0');
}

/** Appends from interop 6 on are labelled application/partial-upload; earlier ones carry any type. */
export function checkAppendType(request: FastifyRequest, version: InteropVersion): void {
  if (version < 6) return;
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/partial-upload') {
    throw new ApiError('unsupported_media_type', 'An append needs Content-Type: application/partial-upload.');
  }
}
