/** JSON shapes of clips and messages (SPEC 4, 5). */
import type { ClipRecord, MediaFileRecord, MessageRecord } from '../domain/ports.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function audioView(file: MediaFileRecord) {
  return {
    filename: file.filename,
    content_type: file.contentType,
    size: file.size,
    sha1: file.sha1,
    codec: file.audio?.codec ?? null,
    sample_rate: file.audio?.sampleRate ?? null,
    channels: file.audio?.channels ?? null,
    duration: file.audio?.duration ?? null,
  };
}

function imageView(file: MediaFileRecord | null) {
  return file === null ? null : { content_type: file.contentType, width: file.image?.width ?? 0, height: file.image?.height ?? 0, size: file.size, sha1: file.sha1 };
}

export function clipView(clip: ClipRecord) {
  const detail = `/audio_clips/${clip.id}`;
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
    audio: audioView(clip.audio),
    image: imageView(clip.image),
    urls: { detail, audio: `${detail}/audio`, image: clip.image ? `${detail}/image` : null },
  };
}

export function messageView(message: MessageRecord) {
  const detail = `/account/messages/${message.id}`;
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
    audio: audioView(message.audio),
    image: imageView(message.image),
    urls: { detail, audio: `${detail}/audio`, image: message.image ? `${detail}/image` : null },
  };
}
