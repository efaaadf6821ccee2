/**
 * The Trickle client for browsers and Node: typed API calls and resumable uploads.
 * Node programs import `trickle/client/node` instead, which adds file paths and resuming
 * across process restarts.
 */
import { uploadSource, type UploadOptions, type UploadResult } from './upload.js';
import { blobSource, bytesSource, isUploadSource, type UploadSource } from './source.js';

export { TrickleClient, type ChunkRequest, type ClipQuery } from './api.js';
export { TrickleApiError, TrickleNetworkError, TrickleTimeoutError, TrickleUploadError, isRetriable, type OAuthErrorName } from './errors.js';
export type { UploadProgress } from './progress.js';
export { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry.js';
export type { ChunkSizing } from './chunk-sizer.js';
export { blobSource, bytesSource, type UploadSource } from './source.js';
export type { Sha1, Sha1Factory } from './sha1.js';
export type * from './types.js';
export { uploadSource, type UploadOptions, type UploadResult };

/** Uploads a Blob/File, bytes, or any UploadSource; see UploadOptions. */
export function upload(source: Blob | Uint8Array | UploadSource, options: UploadOptions): Promise<UploadResult> {
  return uploadSource(toSource(source), options);
}

export function toSource(source: Blob | Uint8Array | UploadSource): UploadSource {
  if (isUploadSource(source)) return source;
  if (source instanceof Uint8Array) return bytesSource(source);
  return blobSource(source);
}
