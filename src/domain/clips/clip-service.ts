/** Audio clips (SPEC 4): public, owned by one user, each with an audio file and maybe an image. */
import { ApiError } from '../errors.js';
import type { Outbox } from '../jobs/outbox.js';
import { createWithFiles, type MediaIntake, type UploadedFile } from '../media/media-intake.js';
import type { ForgottenBlobs } from '../maintenance/forgotten-blobs.js';
import type { ClipChanges, ClipFilter, ClipRecord, ClipRepository, Location } from './ports.js';
import type { Clock } from '../clock.js';

export interface ClipInput {
  title: string;
  description: string;
  tags: string[];
  recordedAt: number | null;
  uuid: string | null;
  location: Location;
}

export class ClipService {
  private readonly clips: ClipRepository;
  private readonly intake: MediaIntake;
  /** Deletes a deleted clip's files, unless a backup holds deletions. */
  private readonly forgotten: ForgottenBlobs;
  private readonly clock: Clock;
  private readonly outbox: Outbox;

  constructor(
    clips: ClipRepository,
    intake: MediaIntake,
    forgotten: ForgottenBlobs,
    clock: Clock,
    outbox: Outbox,
  ) {
    this.clips = clips;
    this.intake = intake;
    this.forgotten = forgotten;
    this.clock = clock;
    this.outbox = outbox;
  }

  /** Resolves the clip, and whether this call made it (false: a retry with a known uuid). */
  async create(userId: number, input: ClipInput, audio: UploadedFile, image: UploadedFile | null): Promise<{ clip: ClipRecord; created: boolean }> {
    if (input.uuid !== null) {
      const existing = await this.clips.findByUuid(userId, input.uuid);
      if (existing) {
        await this.intake.discard([audio, image]);
        return { clip: existing, created: false };
      }
    }
    const now = this.clock.now();
    const { record, created } = await createWithFiles(this.intake, userId, now, audio, image, (files) =>
      this.clips.create({ ...input, userId, createdAt: now }, files, (scope, created) => this.outbox.write(scope, created)),
    );
    return { clip: record, created };
  }

  async get(id: number): Promise<ClipRecord> {
    const clip = await this.clips.findById(id);
    if (!clip) throw new ApiError('not_found', 'No such audio clip.');
    return clip;
  }

  list(filter: ClipFilter): Promise<ClipRecord[]> {
    return this.clips.list(filter);
  }

  async update(userId: number, id: number, changes: Omit<ClipChanges, 'updatedAt'>): Promise<ClipRecord> {
    await this.owned(userId, id);
    const updated = await this.clips.update(id, { ...changes, updatedAt: this.clock.now() });
    // Deleted between the ownership check and the update.
    if (!updated) throw new ApiError('not_found', 'No such audio clip.');
    return updated;
  }

  async delete(userId: number, id: number): Promise<void> {
    await this.owned(userId, id);
    await this.forgotten.delete(await this.clips.delete(id));
  }

  private async owned(userId: number, id: number): Promise<ClipRecord> {
    const clip = await this.get(id);
    if (clip.userId !== userId) throw new ApiError('forbidden', 'Only the owner may change or delete this audio clip.');
    return clip;
  }
}
