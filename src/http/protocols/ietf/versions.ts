/**
 * The interop versions of draft-ietf-httpbis-resumable-upload that clients ship, and
 * what changed between them that a server must honour:
 * - 3 (draft -01, iOS 17): completeness is `Upload-Incomplete` (inverted).
 * - 4 (draft -02) on: `Upload-Complete`.
 * - 6 (draft -04/-05, iOS 18, tus-js-client ietf-draft-05) on: appends carry
 *   `Content-Type: application/partial-upload`.
 * - 8 (the newest draft): as 6/7 for everything a server answers here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../domain/errors.js';

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

/** A structured-field Boolean: `?1` / `?0`; anything else is as if absent. */
function sfBoolean(value: string | string[] | undefined): boolean | undefined {
  if (value === '?1') return true;
  if (value === '?0') return false;
  return undefined;
}

/** Whether the request says it completes the upload; undefined when it does not say. */
export function requestCompletes(request: FastifyRequest, version: InteropVersion): boolean | undefined {
  if (version === 3) {
    const incomplete = sfBoolean(request.headers['upload-incomplete']);
    return incomplete === undefined ? undefined : !incomplete;
  }
  return sfBoolean(request.headers['upload-complete']);
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
