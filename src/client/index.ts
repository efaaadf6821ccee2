/**
 * The Trickle client for browsers and Node: typed API calls and resumable uploads.
 * Node programs import `trickle/client/node` instead, which adds file paths and resuming
 * across process restarts.
 */
import { uploadSource, type UploadOptions, type UploadResult } from './upload.js';
import { blobSource, bytesSource, isUploadSource, type UploadSource } from './source.js';
import { isGrowingSource, uploadGrowing, type GrowingSource } from './growing-upload.js';

export { TrickleClient, type ChunkRequest, type ClipQuery } from './api.js';
export { TrickleApiError, TrickleNetworkError, TrickleTimeoutError, TrickleUploadError, isRetriable, type OAuthErrorName } from './errors.js';
export type { UploadProgress, UploadState } from './progress.js';
export { DEFAULT_RETRY, withRetries, type RetryPolicy, type WaitingFor } from './retry.js';
export type { ChunkSizing } from './chunk-sizing.js';
export { blobSource, bytesSource, type UploadSource } from './source.js';
export type { Sha1, Sha1Factory } from './sha1.js';
export type * from './types.js';
export { uploadSource, type UploadOptions, type UploadResult };
export { downloadTo, memorySink, type DownloadOptions, type DownloadProgress, type DownloadResult, type DownloadSink } from './download.js';
export { isGrowingSource, uploadGrowing, type GrowingSource, type SourcePiece } from './growing-upload.js';
export { chooseRendition, isFastLink, FAST_LINK_BYTES_PER_SECOND, FAST_LINK_RTT_MS, RENDITION_TYPES, type LinkHint, type RenditionChoice, type RenditionChoiceOptions, type RenditionKind, type RenditionUrls } from './renditions.js';

/**
 * Uploads a Blob/File, bytes, or any UploadSource; or a growing source of unknown length (a
 * ReadableStream or async iterable of Blobs/bytes, such as a recording's pieces), sent piece by
 * piece as it arrives, its size fixed when it ends. See UploadOptions.
 */
export function upload(source: Blob | Uint8Array | UploadSource | GrowingSource, options: UploadOptions): Promise<UploadResult> {
  if (isGrowingSource(source) && !isUploadSource(source)) return uploadGrowing(source, options);
  return uploadSource(toSource(source as Blob | Uint8Array | UploadSource), options);
}

export function toSource(source: Blob | Uint8Array | UploadSource): UploadSource {
  if (isUploadSource(source)) return source;
  if (source instanceof Uint8Array) return bytesSource(source);
  return blobSource(source);
}
