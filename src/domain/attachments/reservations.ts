/**
 * The bytes a user's open attachments have declared but not sent yet (SPEC 3.6). An in-place
 * upload takes its disk space as it fills, so what is declared is spoken for: bounded per user,
 * no account can promise itself the free space that everyone else's uploads need.
 */
import { ApiError } from '../errors.js';

export function reservationLimit(maxReservedBytes: number, reservedBytes: number, requestedBytes: number): ApiError {
  return new ApiError(
    'reservation_limit',
    `Your open attachments already declare ${reservedBytes} bytes not sent yet; ${requestedBytes} more would pass the limit of ${maxReservedBytes}. Send their bytes, or delete some, first.`,
    { max_reserved_bytes: maxReservedBytes, reserved_bytes: reservedBytes, requested_bytes: requestedBytes },
  );
}
