/**
 * What media intake and processing ask of the world: what a file is (the probers in
 * src/media/), verdicts remembered about attachments, the media file records clips and
 * messages store, the audio and image processors (ffmpeg, sharp) and the processing rows.
 */
import type { AttachmentRecord } from '../attachments/ports.js';
import type { TransactionScope } from '../jobs/ports.js';
import type { AudioAnalysis, ImageGeometry, ImageRendition, ProcessingError, ProcessingState, ProcessingSubject, StoredRendition } from './processing.js';

export interface AudioInfo {
  contentType: string;
  codec: string;
  duration: number;
  sampleRate: number;
  channels: number;
}

export interface ImageInfo {
  contentType: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

/** Reads what a file really is from its bytes; null when it is not a supported kind. */
export interface MediaProber {
  probeAudio(path: string): Promise<AudioInfo | null>;
  probeImage(path: string): Promise<ImageInfo | null>;
}

/**
 * Remembers that an attachment's bytes (named by their SHA1) are not decodable audio, so
 * asking again costs a look-up instead of another probe.
 */
export interface ProbeVerdicts {
  isRejectedAudio(attachmentId: number, sha1: string): Promise<boolean>;
  rejectAudio(attachmentId: number, sha1: string): Promise<void>;
}

export interface NewMediaFile {
  userId: number;
  storageKey: string;
  kind: 'audio' | 'image';
  filename: string;
  contentType: string;
  size: number;
  sha1: string;
  audio: Omit<AudioInfo, 'contentType'> | null;
  image: Omit<ImageInfo, 'contentType'> | null;
  createdAt: number;
}

export interface MediaFileRecord extends NewMediaFile {
  id: number;
}

/** Files to store with a new clip or message, and the attachments whose bytes they are. */
export interface FilesToAttach {
  audio: NewMediaFile;
  image: NewMediaFile | null;
  /** Attachment ids that become used; each must still be complete, or nothing is stored. */
  attachmentIds: number[];
}

export type CreateOutcome<T> = { created: T } | { existing: T } | { attachmentConflict: number };

export interface AudioProcessor {
  /** Decodes the file once: duration, loudness, the MP3, the small renditions and the waveform (stored). Throws MediaFailure for bad input. */
  analyse(file: MediaFileRecord, signal: AbortSignal): Promise<AudioAnalysis>;
}

/** A stored image that sizes are made from: an original, or its master. */
export type ImageSource = Pick<StoredRendition, 'storageKey' | 'contentType'>;

export interface ImageProcessor {
  /** Makes and stores one size of an image. Throws MediaFailure for bad input. */
  render(source: ImageSource, geometry: ImageGeometry, signal?: AbortSignal): Promise<ImageRendition>;
  /**
   * Makes and stores an image's master: fitted inside `side` x `side`, EXIF orientation
   * applied, quick to decode again. Throws MediaFailure for bad input.
   */
  master(source: ImageSource, side: number): Promise<ImageRendition>;
}

/** Deletes renditions nobody will record (a lost race, a failed run, a deleted clip). */
export interface RenditionDisposal {
  discard(keys: string[]): Promise<void>;
}

export interface ProcessingWork {
  audio: MediaFileRecord;
  image: MediaFileRecord | null;
  state: ProcessingState;
}

export type ProcessingOutcome = { ready: AudioAnalysis; images: ImageRendition[] } | { failed: ProcessingError };

export interface ProcessingRepository {
  /** Inside the transaction that creates the clip or message: its processing row, in `state`. */
  begin(scope: TransactionScope, subject: ProcessingSubject, state: 'queued' | 'unavailable', now: number): Promise<void>;
  /** The subject's files and processing state; null when it is gone (deleted) or has no row. */
  load(subject: ProcessingSubject): Promise<ProcessingWork | null>;
  /** queued or processing → processing; false when it is finished already or gone. */
  start(audioFileId: number, now: number): Promise<boolean>;
  /**
   * One transaction: the outcome (results, the measured duration, the thumb and full image
   * renditions; or the error), then `also` (events). Resolves whether it was written (false:
   * the row is gone or finished) and the keys of renditions it did not record.
   */
  finish(audioFileId: number, outcome: ProcessingOutcome, now: number, also: (scope: TransactionScope) => Promise<void>): Promise<{ written: boolean; unused: string[] }>;
}

export interface ImageRenditionRepository {
  findImageRendition(imageFileId: number, geometry: string): Promise<ImageRendition | null>;
  /** Every rendition of these image files (thumb, full, the master, on-demand sizes), by file id. */
  listImageRenditions(imageFileIds: number[]): Promise<Map<number, ImageRendition[]>>;
  /**
   * Records a rendition unless its geometry has one (then resolves that one, `added` false).
   * An on-demand size is recorded only while the image has fewer than `maxOnDemand` of them;
   * null when it has that many.
   */
  addImageRendition(imageFileId: number, rendition: ImageRendition, now: number, maxOnDemand: number): Promise<{ rendition: ImageRendition; added: boolean } | null>;
}

/** Finds an attachment to use, completing it first if every byte is there. */
export interface AttachmentLookup {
  findForUse(id: number): Promise<AttachmentRecord | null>;
}
