/**
 * Media processing (SPEC 8): after a clip or message is created, a durable job measures its
 * audio (duration from the decoded samples, EBU R128 loudness), makes an MP3 rendition, two
 * small ones for slow networks (Ogg Opus, AAC in MP4) and a waveform, and resizes its image
 * (thumb, full). The state and results live in the database;
 * the tools (ffmpeg, sharp) and the storage of what they make are adapters behind the ports
 * in ./ports.ts. Image sizes, those of the job and those a client asks for (`image_size_hint`), are
 * made by ImageSizes (image-sizes.ts).
 */
import type { EventOutbox } from '../events/ports.js';
import type { ImageSizes } from './image-sizes.js';
import type { CreatedRecord } from '../jobs/outbox.js';
import type { JobContext, JobPolicy, TransactionScope } from '../jobs/ports.js';
import type { Clock } from '../clock.js';
import type { AudioProcessor, ProcessingOutcome, ProcessingRepository, RenditionDisposal } from './ports.js';

export type ProcessingState = 'queued' | 'processing' | 'ready' | 'failed' | 'unavailable';
export type ProcessingSubject = CreatedRecord;

/** A file made from another and stored under its own key. */
export interface StoredRendition {
  storageKey: string;
  contentType: string;
  size: number;
  sha1: string;
}

export interface ImageRendition extends StoredRendition {
  /** Canonical geometry text (see parseGeometry). */
  geometry: string;
  width: number;
  height: number;
}

export interface Loudness {
  /** EBU R128 integrated loudness (LUFS). */
  integratedLufs: number | null;
  /** True peak (dBTP); null for digital silence. */
  truePeakDbtp: number | null;
}

/** `processing_error`: a name from the table in docs/api.md and a readable description. */
export interface ProcessingError {
  name: ProcessingErrorName;
  description: string;
}

export type ProcessingErrorName = 'media_timeout' | 'media_unreadable' | 'media_too_long' | 'image_unreadable' | 'image_too_large' | 'internal_error';

/** What a clip or message carries about its processing. */
export interface MediaProcessing {
  state: ProcessingState;
  error: ProcessingError | null;
  loudness: Loudness | null;
  mp3: StoredRendition | null;
  /** Small renditions for slow networks; null also for records processed before they existed. */
  lowOpus: StoredRendition | null;
  lowAac: StoredRendition | null;
  waveform: StoredRendition | null;
  /** The background renditions of the image, once made. */
  images: { thumb: ImageRendition | null; full: ImageRendition | null };
}

/** Records from before media processing existed were never processed. */
export const NEVER_PROCESSED: MediaProcessing = { state: 'unavailable', error: null, loudness: null, mp3: null, lowOpus: null, lowAac: null, waveform: null, images: { thumb: null, full: null } };

export interface AudioAnalysis {
  /** Seconds, counted from the decoded samples. */
  duration: number;
  loudness: Loudness;
  mp3: StoredRendition;
  /** Ogg Opus, mono, about 24 kbit/s. */
  lowOpus: StoredRendition;
  /** AAC-LC in MP4 (moov first), mono, about 48 kbit/s. */
  lowAac: StoredRendition;
  waveform: StoredRendition;
}

/** The stored files an analysis made, for discarding them together. */
export function analysisKeys(analysis: AudioAnalysis): string[] {
  return [analysis.mp3.storageKey, analysis.lowOpus.storageKey, analysis.lowAac.storageKey, analysis.waveform.storageKey];
}

/**
 * The input's fault (undecodable, too long, too large, too slow): the job fails at once with
 * this as its `processing_error`; a retry would fail the same way.
 */
export class MediaFailure extends Error {
  readonly errorName: ProcessingErrorName;

  constructor(
    errorName: ProcessingErrorName,
    description: string,
  ) {
    super(description);
    this.errorName = errorName;
  }
}

// ---------------------------------------------------------------- image geometry

/** `crop`: fill WxH exactly, cropping (`WxH/c`); `fit`: fit inside, enlarged if smaller (`WxH<`); `shrink`: fit inside, never enlarged (`WxH`). */
export interface ImageGeometry {
  width: number;
  height: number;
  mode: 'crop' | 'fit' | 'shrink';
}

export const MAX_IMAGE_SIDE = 2048;
export const THUMB: ImageGeometry = { width: 100, height: 100, mode: 'crop' };
export const FULL: ImageGeometry = { width: 1024, height: 1024, mode: 'shrink' };

/** Parses `WxH`, `WxH<` or `WxH/c` with sides 1..2048; null otherwise. */
export function parseGeometry(text: string): ImageGeometry | null {
  const match = /^([1-9][0-9]{0,3})x([1-9][0-9]{0,3})(<|\/c)?$/.exec(text.trim());
  if (!match) return null;
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) return null;
  return { width, height, mode: match[3] === '/c' ? 'crop' : match[3] === '<' ? 'fit' : 'shrink' };
}

export function geometryText(geometry: ImageGeometry): string {
  const suffix = geometry.mode === 'crop' ? '/c' : geometry.mode === 'fit' ? '<' : '';
  return `${geometry.width}x${geometry.height}${suffix}`;
}

// ---------------------------------------------------------------- the service

export const MEDIA_JOB = 'media-process';

/**
 * A few quick retries for what is not the input's fault (the database or disk hiccuped);
 * bad input fails at once. The lease is short: a handler renews it while it runs, and a
 * node killed mid-job hands the job on after 10 s.
 */
export const MEDIA_POLICY: Omit<JobPolicy, 'concurrency'> = {
  maxAttempts: 4,
  retryDelaySeconds: 5,
  exponential: true,
  maxRetryDelaySeconds: 60,
  leaseSeconds: 10,
};

export interface MediaJobPayload {
  [key: string]: unknown;
  subject_type: ProcessingSubject['type'];
  subject_id: number;
}

export class MediaProcessingService {
  private readonly repository: ProcessingRepository;
  /** Null: no ffmpeg on this node; clips say `unavailable`. */
  private readonly audio: AudioProcessor | null;
  /** Image sizes: thumb and full here, and those asked for with image_size_hint. */
  readonly sizes: ImageSizes;
  private readonly disposal: RenditionDisposal;
  private readonly clock: Clock;
  /** Where `*.processed` events go (webhooks); null when nobody listens. */
  private readonly events: EventOutbox | null;

  constructor(
    repository: ProcessingRepository,
    audio: AudioProcessor | null,
    sizes: ImageSizes,
    disposal: RenditionDisposal,
    clock: Clock,
    events: EventOutbox | null,
  ) {
    this.repository = repository;
    this.audio = audio;
    this.sizes = sizes;
    this.disposal = disposal;
    this.clock = clock;
    this.events = events;
  }

  get available(): boolean {
    return this.audio !== null;
  }

  /** The outbox part: the processing row, written with the new clip or message. Resolves whether a job is due. */
  async begin(scope: TransactionScope, subject: ProcessingSubject): Promise<boolean> {
    await this.repository.begin(scope, subject, this.available ? 'queued' : 'unavailable', this.clock.now());
    return this.available;
  }

  /** The job: idempotent, so a repeat after a crash finishes the work or finds it done. */
  async run(subject: ProcessingSubject, job: Pick<JobContext, 'signal' | 'lastAttempt'>): Promise<void> {
    if (!this.audio) throw new Error('media processing is unavailable on this node (no ffmpeg)');
    const work = await this.repository.load(subject);
    if (!work || (work.state !== 'queued' && work.state !== 'processing')) return;
    if (!(await this.repository.start(work.audio.id, this.clock.now()))) return;
    const made: string[] = [];
    let outcome: ProcessingOutcome;
    try {
      const analysis = await this.audio.analyse(work.audio, job.signal);
      made.push(...analysisKeys(analysis));
      const images: ImageRendition[] = [];
      for (const geometry of work.image ? [THUMB, FULL] : []) {
        const rendition = await this.sizes.render(work.image!, geometry, job.signal);
        made.push(rendition.storageKey);
        images.push(rendition);
      }
      outcome = { ready: analysis, images };
    } catch (error) {
      await this.disposal.discard(made.splice(0));
      if (error instanceof MediaFailure) outcome = { failed: { name: error.errorName, description: error.message } };
      else if (job.lastAttempt && !job.signal.aborted) outcome = { failed: { name: 'internal_error', description: `Processing failed on every attempt: ${String(error)}` } };
      else throw error;
    }
    const event = { type: `${subject.type}.processed` as const, subjectId: subject.id, occurredAt: this.clock.now() };
    const { written, unused } = await this.repository.finish(work.audio.id, outcome, this.clock.now(), async (scope) => {
      await this.events?.record(event, scope);
    });
    await this.disposal.discard(written ? unused : made);
  }
}
