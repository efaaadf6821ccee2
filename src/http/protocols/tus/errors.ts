/**
 * tus 1.0 answers: every failure the engine or the protocol layer reports, mapped once
 * to the status tus (or tusd, where the spec is silent) uses, with a plain-text body.
 */
import type { ErrorName } from '../../../domain/errors.js';
import type { UploadConflictReason } from '../../../domain/uploads/resumable-uploads.js';
import type { ProtocolFailure } from '../shared.js';

/** tus's own status for a checksum that does not match (checksum extension). */
export const CHECKSUM_MISMATCH = 460;

const ENGINE_STATUS: Partial<Record<ErrorName, number>> = {
  invalid_parameter: 400,
  missing_parameter: 400,
  malformed_body: 400,
  authentication_required: 401,
  invalid_token: 401,
  forbidden: 403,
  not_found: 404,
  // A size fixed twice differently, or not covering what is there.
  size_mismatch: 409,
  attachment_complete: 409,
  attachment_used: 409,
  // Past Upload-Length (tusd: ErrSizeExceeded) or past Tus-Max-Size.
  chunk_out_of_range: 413,
  attachment_too_large: 413,
  request_too_large: 413,
  unsupported_media_type: 415,
  chunk_checksum_mismatch: CHECKSUM_MISMATCH,
  too_many_open_attachments: 429,
  reservation_limit: 429,
  rate_limited: 429,
  insufficient_storage: 507,
};

const CONFLICT_STATUS: Record<UploadConflictReason, number> = {
  offset_mismatch: 409,
  // IETF only (tus answers a PATCH to a finished upload as tusd does: by its offset and length).
  upload_complete: 400,
  representation_digest_mismatch: 400,
  final_upload_is_read_only: 403,
  not_a_partial_upload: 400,
  partial_upload_incomplete: 400,
};

export function tusStatus(failure: ProtocolFailure): { status: number; text: string } {
  if (failure.kind === 'conflict') return { status: CONFLICT_STATUS[failure.error.reason], text: failure.error.message };
  if (failure.kind === 'api') return { status: ENGINE_STATUS[failure.error.errorName] ?? failure.error.status, text: failure.error.message };
  return { status: 500, text: 'Something went wrong on the server.' };
}
