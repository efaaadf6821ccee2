/**
 * Turns what a client sent as a file (a chunked attachment reference, or a file part
 * already streamed into a new blob) into a probed file ready to be stored with a clip
 * or message (SPEC 3.7). Checks run before anything changes: an attachment that fails
 * any of them stays exactly as it was.
 */
import { ApiError } from '../errors.js';
import { missingRanges } from '../attachments/ranges.js';
import type { AttachmentLookup, AudioInfo, CreateOutcome, FilesToAttach, MediaProber, NewMediaFile, ProbeVerdicts } from './ports.js';
import type { BlobStore } from '../storage/ports.js';

export type UploadedFile =
  | { kind: 'attachment'; parameter: string; attachmentId: number; fingerprint: string | undefined }
  | { kind: 'blob'; parameter: string; storageKey: string; filename: string; size: number; sha1: string };

export interface PreparedFile {
  file: Omit<NewMediaFile, 'userId' | 'createdAt'>;
  /** The attachment that becomes used, if the file came as one. */
  attachmentId: number | null;
  /** A blob made for this request, to delete if the request fails. */
  newBlob: string | null;
}

export class MediaIntake {
  private readonly attachments: AttachmentLookup;
  private readonly store: BlobStore;
  private readonly prober: MediaProber;
  private readonly verdicts: ProbeVerdicts;

  constructor(
    attachments: AttachmentLookup,
    store: BlobStore,
    prober: MediaProber,
    verdicts: ProbeVerdicts,
  ) {
    this.attachments = attachments;
    this.store = store;
    this.prober = prober;
    this.verdicts = verdicts;
  }

  async prepare(userId: number, input: UploadedFile, kind: 'audio' | 'image'): Promise<PreparedFile> {
    const source = input.kind === 'attachment' ? await this.usableAttachment(userId, input) : { ...input, attachmentId: null, newBlob: input.storageKey };
    if (kind === 'audio') {
      const info = await this.probeAudio(source);
      if (!info) throw new ApiError('unsupported_audio', `${input.parameter} is not decodable audio (FLAC, MP3, WAV, AIFF, Ogg, MP4/M4A or WebM).`, { parameter: input.parameter });
      const { contentType, ...audio } = info;
      return { file: { kind, storageKey: source.storageKey, filename: source.filename, contentType, size: source.size, sha1: source.sha1, audio, image: null }, attachmentId: source.attachmentId, newBlob: source.newBlob };
    }
    const info = await this.store.withLocalFile(source.storageKey, (path) => this.prober.probeImage(path));
    if (!info) throw new ApiError('unsupported_image', `${input.parameter} is not a JPEG or PNG image.`, { parameter: input.parameter });
    const { contentType, ...image } = info;
    return { file: { kind, storageKey: source.storageKey, filename: source.filename, contentType, size: source.size, sha1: source.sha1, audio: null, image }, attachmentId: source.attachmentId, newBlob: source.newBlob };
  }

  /**
   * Probes audio once per attachment content: a verdict of "not audio" is kept with the
   * attachment, keyed to its SHA1, so repeating the request costs a look-up, not a probe.
   */
  private async probeAudio(source: { storageKey: string; attachmentId: number | null; sha1: string }): Promise<AudioInfo | null> {
    const { attachmentId, sha1 } = source;
    const probe = () => this.store.withLocalFile(source.storageKey, (path) => this.prober.probeAudio(path));
    if (attachmentId === null) return probe();
    if (await this.verdicts.isRejectedAudio(attachmentId, sha1)) return null;
    const info = await probe();
    if (info) return info;
    // Deleted while it was probed: it is gone, not unsupported.
    if (!(await this.attachments.findForUse(attachmentId))) throw new ApiError('attachment_not_found', undefined, { chunked_attachment_id: attachmentId });
    await this.verdicts.rejectAudio(attachmentId, sha1);
    return null;
  }

  /** Deletes blobs made for a request that did not go through. */
  async discard(files: Array<PreparedFile | UploadedFile | null>): Promise<void> {
    for (const file of files) {
      const key = file === null ? null : 'newBlob' in file ? file.newBlob : file.kind === 'blob' ? file.storageKey : null;
      if (key) await this.store.deleteBlob(key).catch(() => undefined);
    }
  }

  private async usableAttachment(userId: number, input: Extract<UploadedFile, { kind: 'attachment' }>) {
    const record = await this.attachments.findForUse(input.attachmentId);
    const details = { parameter: input.parameter, chunked_attachment_id: input.attachmentId };
    if (!record || record.userId !== userId) throw new ApiError('attachment_not_found', undefined, details);
    if (record.state === 'used') throw new ApiError('attachment_used', 'The attachment has already been used.', { ...details, used_by: record.usedBy });
    if (record.state !== 'complete' || record.sha1 === null || record.size === null) {
      // A size not known yet (SPEC 3.8): the gaps below the highest byte received.
      const end = record.size ?? record.ranges.at(-1)?.[1] ?? 0;
      throw new ApiError('attachment_incomplete', undefined, { ...details, missing: missingRanges(record.ranges, end) });
    }
    if (input.fingerprint !== undefined && input.fingerprint !== record.sha1) {
      throw new ApiError('fingerprint_mismatch', 'The fingerprint differs from the SHA1 of the assembled file; the attachment is unchanged.', {
        ...details,
        fingerprint: input.fingerprint,
        sha1: record.sha1,
      });
    }
    return { storageKey: record.storageKey, filename: record.filename, size: record.size, sha1: record.sha1, attachmentId: record.id, newBlob: null };
  }

  /** The error for an attachment that stopped being usable between the checks and the commit. */
  async conflictError(attachmentId: number): Promise<ApiError> {
    const record = await this.attachments.findForUse(attachmentId);
    if (record?.state === 'used') return new ApiError('attachment_used', 'The attachment has already been used.', { chunked_attachment_id: attachmentId, used_by: record.usedBy });
    return new ApiError('attachment_not_found', undefined, { chunked_attachment_id: attachmentId });
  }
}

/** Prepares the audio and optional image of one request; nothing is left behind on failure. */
export async function prepareFiles(
  intake: MediaIntake,
  userId: number,
  audio: UploadedFile,
  image: UploadedFile | null,
): Promise<{ audio: PreparedFile; image: PreparedFile | null }> {
  let preparedAudio: PreparedFile | null = null;
  try {
    preparedAudio = await intake.prepare(userId, audio, 'audio');
    const preparedImage = image ? await intake.prepare(userId, image, 'image') : null;
    if (preparedImage && preparedImage.attachmentId !== null && preparedImage.attachmentId === preparedAudio.attachmentId) {
      throw new ApiError('attachment_used', 'One attachment cannot be both the audio and the image.', { chunked_attachment_id: preparedImage.attachmentId });
    }
    return { audio: preparedAudio, image: preparedImage };
  } catch (error) {
    await intake.discard([preparedAudio ?? audio, image]);
    throw error;
  }
}

export function filesToAttach(userId: number, now: number, audio: PreparedFile, image: PreparedFile | null): FilesToAttach {
  return {
    audio: { ...audio.file, userId, createdAt: now },
    image: image ? { ...image.file, userId, createdAt: now } : null,
    attachmentIds: [audio.attachmentId, image?.attachmentId ?? null].filter((id): id is number => id !== null),
  };
}

/**
 * Prepares the files of a clip or message and stores the record with them in one
 * transaction (`store`). New blobs are deleted unless the record that owns them is made;
 * a retry with a known uuid answers the existing record.
 */
export async function createWithFiles<T>(
  intake: MediaIntake,
  userId: number,
  now: number,
  audio: UploadedFile,
  image: UploadedFile | null,
  store: (files: FilesToAttach) => Promise<CreateOutcome<T>>,
): Promise<{ record: T; created: boolean }> {
  const prepared = await prepareFiles(intake, userId, audio, image);
  const discard = () => intake.discard([prepared.audio, prepared.image]);
  const outcome = await store(filesToAttach(userId, now, prepared.audio, prepared.image)).catch(async (error: unknown) => {
    await discard();
    throw error;
  });
  if ('created' in outcome) return { record: outcome.created, created: true };
  await discard();
  if ('existing' in outcome) return { record: outcome.existing, created: false };
  throw await intake.conflictError(outcome.attachmentConflict);
}
