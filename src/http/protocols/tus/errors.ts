/**
 * tus 1.0 answers: every failure the engine or the protocol layer reports, mapped once
 * to the status tus (or tusd, where the spec is silent) uses, with a plain-text body.
 */
import type { ErrorName } from '../../../domain/errors.js';
import type { UploadConflictReason } from '../../../domain/protocols/resumable-uploads.js';
import type { ProtocolFailure } from '../shared.js';

/** tus's own status for a checksum that does not match (checksum extension). */
export const CHECKSUM_MISMATCH = 460;

/** Where tus answers otherwise than the API's error table (src/domain/errors.ts); every other error keeps its status there. */
const ENGINE_STATUS: Partial<Record<ErrorName, number>> = {
  // Past Upload-Length (tusd: ErrSizeExceeded); past Tus-Max-Size is attachment_too_large, 413 too.
  chunk_out_of_range: 413,
  chunk_checksum_mismatch: CHECKSUM_MISMATCH,
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
