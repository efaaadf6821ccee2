/** JSON shapes of attachments, clips and messages (SPEC 3, 4, 5). */
import { contiguousPrefix, highestByte, missingRanges, type ByteRange } from '../domain/attachments/ranges.js';
import type { AttachmentRecord } from '../domain/attachments/ports.js';
import type { ClipRecord } from '../domain/clips/ports.js';
import type { MediaFileRecord } from '../domain/media/ports.js';
import type { MessageRecord } from '../domain/messages/ports.js';
import { processingView, type HintedImages } from './processing-views.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface AttachmentView {
  id: number;
  filename: string;
  content_type: string;
  size: number | null;
  received: number;
  outstanding: number | null;
  complete: boolean;
  received_bytes: number;
  ranges: ByteRange[];
  missing: ByteRange[];
  state: AttachmentRecord['state'];
  sha1: string | null;
  used_by: AttachmentRecord['usedBy'];
  expires_at: string | null;
  created_at: string;
}

export function attachmentView(record: AttachmentRecord): AttachmentView {
  const received = record.receivedBytes;
  return {
    id: record.id,
    filename: record.filename,
    content_type: record.contentType ?? 'application/octet-stream',
    size: record.size,
    received: contiguousPrefix(record.ranges),
    outstanding: record.size === null ? null : record.size - received,
    complete: received === record.size,
    received_bytes: received,
    ranges: record.ranges,
    // While the size is unknown, the gaps below the highest byte received.
    missing: missingRanges(record.ranges, record.size ?? highestByte(record.ranges)),
    state: record.state,
    sha1: record.sha1,
    used_by: record.usedBy,
    expires_at: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
    created_at: new Date(record.createdAt).toISOString(),
  };
}

function audioView(file: MediaFileRecord, loudness: ReturnType<typeof processingView>['loudness']) {
  return {
    filename: file.filename,
    content_type: file.contentType,
    size: file.size,
    sha1: file.sha1,
    codec: file.audio?.codec ?? null,
    sample_rate: file.audio?.sampleRate ?? null,
    channels: file.audio?.channels ?? null,
    duration: file.audio?.duration ?? null,
    loudness,
  };
}

function imageView(file: MediaFileRecord | null) {
  return file === null ? null : { content_type: file.contentType, width: file.image?.width ?? 0, height: file.image?.height ?? 0, size: file.size, sha1: file.sha1 };
}

export function clipView(clip: ClipRecord, hinted?: HintedImages) {
  const detail = `/audio_clips/${clip.id}`;
  const processed = processingView(detail, clip.processing, clip.image !== null, hinted);
  return {
    id: clip.id,
    title: clip.title,
    description: clip.description,
    duration: clip.audio.audio?.duration ?? null,
    uploaded_at: iso(clip.createdAt),
    updated_at: iso(clip.updatedAt),
    recorded_at: iso(clip.recordedAt),
    uuid: clip.uuid,
    tags: clip.tags,
    location: clip.location,
    user: clip.owner,
    audio: audioView(clip.audio, processed.loudness),
    image: imageView(clip.image),
    processing: processed.processing,
    processing_error: processed.processing_error,
    urls: { detail, audio: `${detail}/audio`, image: clip.image ? `${detail}/image` : null, ...processed.urls },
  };
}

export function messageView(message: MessageRecord, hinted?: HintedImages) {
  const detail = `/account/messages/${message.id}`;
  const processed = processingView(detail, message.processing, message.image !== null, hinted);
  return {
    id: message.id,
    title: message.title,
    duration: message.audio.audio?.duration ?? null,
    sender: message.sender,
    recipient: message.recipient,
    parent_id: message.parentId,
    played: message.played,
    uuid: message.uuid,
    created_at: iso(message.createdAt),
    recorded_at: iso(message.recordedAt),
    audio: audioView(message.audio, processed.loudness),
    image: imageView(message.image),
    processing: processed.processing,
    processing_error: processed.processing_error,
    urls: { detail, audio: `${detail}/audio`, image: message.image ? `${detail}/image` : null, ...processed.urls },
  };
}
