/** What clips ask of the world (SPEC 4): their rows (src/db/repositories/clips-repository.ts). */
import type { OutboxWriter } from '../jobs/outbox.js';
import type { CreateOutcome, FilesToAttach, MediaFileRecord } from '../media/ports.js';
import type { MediaProcessing } from '../media/processing.js';
import type { UserRef } from '../users/ports.js';

export interface Location {
  latitude: number | null;
  longitude: number | null;
  accuracy: number | null;
}

export interface NewClip {
  userId: number;
  uuid: string | null;
  title: string;
  description: string;
  tags: string[];
  recordedAt: number | null;
  location: Location;
  createdAt: number;
}

export interface ClipRecord extends NewClip {
  id: number;
  owner: UserRef;
  audio: MediaFileRecord;
  image: MediaFileRecord | null;
  /** Background processing of its media (SPEC 8). */
  processing: MediaProcessing;
  updatedAt: number;
}

export interface ClipFilter {
  userId?: number | undefined;
  query?: string | undefined;
  maxTime?: number | undefined;
  offset: number;
  limit: number;
}

export interface ClipChanges {
  title?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
  recordedAt?: number | null | undefined;
  updatedAt: number;
}

export interface ClipRepository {
  /** One transaction: files, the clip, the attachments marked used by it, and the outbox's jobs. */
  create(clip: NewClip, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<ClipRecord>>;
  findById(id: number): Promise<ClipRecord | null>;
  findByUuid(userId: number, uuid: string): Promise<ClipRecord | null>;
  list(filter: ClipFilter): Promise<ClipRecord[]>;
  update(id: number, changes: ClipChanges): Promise<ClipRecord | null>;
  /** Deletes the clip and its file records; resolves the storage keys to delete. */
  delete(id: number): Promise<string[]>;
}
