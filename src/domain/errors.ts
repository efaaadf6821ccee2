/**
 * Every error the API can answer with, declared once: a stable integer code,
 * the HTTP status, and a default description. docs/api.md lists the same table
 * (a test keeps the two in agreement).
 */
export const ERROR_TABLE = {
  // 400: the request itself is malformed
  invalid_parameter: { code: 1001, status: 400, description: 'A parameter has an invalid value.' },
  missing_parameter: { code: 1002, status: 400, description: 'A required parameter is missing.' },
  malformed_body: { code: 1003, status: 400, description: 'The request body could not be parsed.' },
  malformed_request: { code: 1004, status: 400, description: 'The request is not valid HTTP.' },
  // 401 / 403: who you are and what you may do
  authentication_required: { code: 1101, status: 401, description: 'This call needs an access token.' },
  invalid_token: { code: 1102, status: 401, description: 'The access token is unknown, expired, revoked, or fails a check.' },
  forbidden: { code: 1103, status: 403, description: 'You are not allowed to do this.' },
  registration_disabled: { code: 1104, status: 403, description: 'Registration is switched off on this server.' },
  wrong_password: { code: 1105, status: 403, description: 'The password is wrong.' },
  recent_sign_in_required: { code: 1106, status: 403, description: 'This needs a token from the identity provider issued in the last 5 minutes.' },
  // 404 / 405
  not_found: { code: 1201, status: 404, description: 'No such resource, or it is not visible to you.' },
  method_not_allowed: { code: 1202, status: 405, description: 'This method is not allowed on this resource.' },
  not_processed: { code: 1203, status: 404, description: 'The media has not been processed (yet); see processing.' },
  // 409: conflicts with the current state
  username_taken: { code: 1301, status: 409, description: 'That username is already taken.' },
  size_mismatch: { code: 1302, status: 409, description: 'The size differs from the size given when the attachment was created.' },
  attachment_complete: {
    code: 1303,
    status: 409,
    description: 'The attachment is complete; its bytes can no longer change.',
  },
  attachment_used: { code: 1304, status: 409, description: 'The attachment has already been used.' },
  too_many_ranges: {
    code: 1305,
    status: 409,
    description: 'The chunk would split the attachment into more separate ranges than the server keeps; fill gaps first.',
  },
  // 413 / 415
  attachment_too_large: { code: 1401, status: 413, description: 'The attachment is larger than this server accepts.' },
  request_too_large: { code: 1402, status: 413, description: 'The request is larger than this server accepts.' },
  request_timeout: { code: 1403, status: 408, description: 'The request did not arrive in time.' },
  headers_too_large: { code: 1404, status: 431, description: 'The request headers are larger than this server accepts.' },
  unsupported_media_type: { code: 1501, status: 415, description: 'This content type is not supported here.' },
  // 416
  range_not_satisfiable: { code: 1551, status: 416, description: 'The requested byte range is outside the file.' },
  // 422: well-formed but semantically invalid
  chunk_out_of_range: { code: 1601, status: 422, description: 'The chunk extends past the end of the attachment.' },
  chunk_checksum_mismatch: { code: 1602, status: 422, description: 'The chunk does not match its chunk_sha1.' },
  attachment_not_found: { code: 1603, status: 422, description: 'The chunked attachment does not exist or is not yours.' },
  attachment_incomplete: { code: 1604, status: 422, description: 'Not every byte of the attachment has been received.' },
  fingerprint_mismatch: { code: 1605, status: 422, description: 'The fingerprint differs from the SHA1 of the assembled file.' },
  unsupported_audio: { code: 1606, status: 422, description: 'The file is not decodable audio in a supported format.' },
  unsupported_image: { code: 1607, status: 422, description: 'The image is not a JPEG or PNG file.' },
  recipient_not_found: { code: 1608, status: 422, description: 'The recipient does not exist.' },
  parent_not_found: { code: 1609, status: 422, description: 'The parent message does not exist or is not one you sent or received.' },
  user_not_found: { code: 1610, status: 422, description: 'The user does not exist.' },
  invite_code_invalid: { code: 1611, status: 422, description: 'The invite code is unknown, already used or expired.' },
  // 429 / 507
  too_many_open_attachments: { code: 1701, status: 429, description: 'You have too many open attachments (uploading, or complete but not used yet).' },
  rate_limited: { code: 1702, status: 429, description: 'Too many requests; try again later.' },
  reservation_limit: {
    code: 1703,
    status: 429,
    description: 'Your open attachments already declare as many bytes not sent yet as the server holds for one user.',
  },
  insufficient_storage: { code: 1801, status: 507, description: 'The server is out of storage space.' },
  // 503: the server cannot serve this now; it may soon
  storage_unavailable: { code: 1851, status: 503, description: 'The storage did not answer in time; try again shortly.' },
  not_ready: { code: 1852, status: 503, description: 'The server cannot serve requests now: its database or storage does not answer.' },
  // 500 is always a bug
  internal_error: { code: 1901, status: 500, description: 'Something went wrong on the server.' },
} as const satisfies Record<string, { code: number; status: number; description: string }>;

export type ErrorName = keyof typeof ERROR_TABLE;

/** An error the API answers with; thrown anywhere, mapped to the envelope once by the HTTP layer. */
export class ApiError extends Error {
  readonly errorName: ErrorName;
  readonly details: Record<string, unknown> | undefined;

  constructor(name: ErrorName, description?: string, details?: Record<string, unknown>) {
    super(description ?? ERROR_TABLE[name].description);
    this.errorName = name;
    this.details = details;
  }

  get status(): number {
    return ERROR_TABLE[this.errorName].status;
  }

  get code(): number {
    return ERROR_TABLE[this.errorName].code;
  }
}

export function invalidParameter(parameter: string, reason: string): ApiError {
  return new ApiError('invalid_parameter', `${parameter} ${reason}.`, { parameter });
}

export function missingParameter(parameter: string): ApiError {
  return new ApiError('missing_parameter', `${parameter} is required.`, { parameter });
}
