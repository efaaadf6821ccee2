/**
 * What the domain reports for monitoring. The HTTP layer implements it with Prometheus
 * counters (src/http/metrics.ts); the domain sees only this interface.
 */
export interface Metrics {
  /** A chunk was recorded. */
  chunkAccepted(): void;
  /** A chunk was refused; `reason` is the error's name (e.g. `chunk_checksum_mismatch`). */
  chunkRejected(reason: string): void;
  /** An attachment received its last byte and was marked complete. */
  attachmentCompleted(): void;
  /** A chunk starts arriving; call the returned function when it has been handled. */
  chunkRequestStarted(): () => void;
  /** How many media jobs are in `state` (set by the job queue whenever it counts them). */
  setMediaJobs(state: string, count: number): void;
  /** An image was resized (a size or a master made), from its original or from its master. */
  imageResized(from: 'original' | 'master'): void;
  /** A size asked for with image_size_hint was not made; `reason` says which budget (image-sizes.ts). */
  imageSizeDeclined(reason: string): void;
}
