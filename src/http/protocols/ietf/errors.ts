/**
 * IETF Resumable Uploads answers: every failure mapped once to the draft's status codes.
 * The problem types the draft defines answer as application/problem+json (a mismatching
 * offset with its expected-offset and provided-offset members); the rest are plain text.
 */
import type { ErrorName } from '../../../domain/errors.js';
import type { UploadConflictReason } from '../../../domain/protocols/resumable-uploads.js';
import type { ProtocolFailure } from '../shared.js';
import type { InteropVersion } from './versions.js';

export interface IetfErrorAnswer {
  status: number;
  text: string;
  /** An RFC 9457 problem type URI from the draft, when one applies. */
  problem?: string;
  /** The answer comes from processing the complete representation (Upload-Complete: ?1), not from the protocol. */
  processed?: boolean;
}

const PROBLEM_BASE = 'https://iana.org/assignments/http-problem-types#';

/** Where the draft answers otherwise than the API's error table (src/domain/errors.ts); every other error keeps its status there. */
const ENGINE_STATUS: Partial<Record<ErrorName, number>> = {
  attachment_complete: 400,
  attachment_used: 400,
  chunk_out_of_range: 413,
  chunk_checksum_mismatch: 400,
};

const CONFLICT_STATUS: Record<UploadConflictReason, number> = {
  offset_mismatch: 409,
  upload_complete: 400,
  representation_digest_mismatch: 400,
  final_upload_is_read_only: 400,
  not_a_partial_upload: 400,
  partial_upload_incomplete: 400,
};

/** What the request was, as far as the answer depends on it. */
export interface FailedRequest {
  version: InteropVersion;
  /** The request carried content (or may have: a body of unknown length). */
  hasContent: boolean;
}

export function ietfAnswer(failure: ProtocolFailure, request: FailedRequest): IetfErrorAnswer {
  if (failure.kind === 'conflict') {
    const { reason, message } = failure.error;
    if (reason === 'offset_mismatch') return { status: 409, text: message, problem: `${PROBLEM_BASE}mismatching-upload-offset` };
    if (reason === 'upload_complete') {
      // Drafts -10 and -11 (interop 8): bytes appended to a completed upload are an inconsistent length.
      if (request.version >= 8 && request.hasContent) return { status: 400, text: message, problem: `${PROBLEM_BASE}inconsistent-upload-length` };
      return { status: 400, text: message, problem: `${PROBLEM_BASE}completed-upload` };
    }
    // The whole representation arrived and was refused: the answer comes from processing it.
    if (reason === 'representation_digest_mismatch') return { status: 400, text: message, processed: true };
    return { status: CONFLICT_STATUS[reason], text: message };
  }
  if (failure.kind === 'api') {
    const { errorName, message } = failure.error;
    // A length that disagrees with one given before, or with the bytes: the draft's inconsistent length.
    if (errorName === 'size_mismatch') return { status: 400, text: message, problem: `${PROBLEM_BASE}inconsistent-upload-length` };
    return { status: ENGINE_STATUS[errorName] ?? failure.error.status, text: message };
  }
  return { status: 500, text: 'Something went wrong on the server.' };
}
