/**
 * Chunked attachments: create, add chunks, read status, abort, expire. Who may do what,
 * limits and expiry (SPEC 3) live here, around the upload engine that moves the bytes;
 * HTTP, SQL and files stay behind the ports.
 */
import { ApiError } from '../errors.js';
import type { AttachmentRecord, AttachmentRepository, ExpiryCursor } from './ports.js';
import type { BlobStore } from '../storage/ports.js';
import type { Clock } from '../clock.js';
import type { ForgottenBlobs } from '../maintenance/forgotten-blobs.js';
import { reservationLimit } from './reservations.js';
import { outOfRange, tooLarge, type ChunkInput, type UploadEngine } from './upload-engine.js';

export type { ChunkInput } from './upload-engine.js';
export { AppendOffsetMoved } from './upload-engine.js';

export interface AttachmentLimits {
  maxSize: number;
  maxOpenPerUser: number;
  idleTimeoutMs: number;
  /** Separate received ranges one attachment may have. */
  maxRanges: number;
  /** Bytes one user's attachments still uploading may declare but not have received (SPEC 3.6). */
  maxReservedBytes: number;
  /** Free space that must remain after an attachment of the requested size. */
  minFreeBytes: number;
}

export interface NewAttachmentInput {
  /** Null when the size is not known yet (SPEC 3.8); fixed later with setSize or a chunk's size. */
  size: number | null;
  filename: string;
  contentType: string | null;
  /** The caller's partial uploads this one is made of (tus concatenation): they stop counting against the limits. */
  consumes?: number[] | undefined;
}

/** Pages of expired attachments one sweep looks through at most (a bound on its time). */
const MAX_SWEEP_PAGES = 100;

export class AttachmentService {
  private readonly repo: AttachmentRepository;
  private readonly store: BlobStore;
  private readonly clock: Clock;
  readonly limits: AttachmentLimits;
  private readonly engine: UploadEngine;
  private readonly forgotten: ForgottenBlobs;

  constructor(
    repo: AttachmentRepository,
    store: BlobStore,
    clock: Clock,
    limits: AttachmentLimits,
    engine: UploadEngine,
    forgotten: ForgottenBlobs,
  ) {
    this.repo = repo;
    this.store = store;
    this.clock = clock;
    this.limits = limits;
    this.engine = engine;
    this.forgotten = forgotten;
  }

  async create(userId: number, input: NewAttachmentInput): Promise<AttachmentRecord> {
    if (input.size !== null && input.size > this.limits.maxSize) throw tooLarge(this.limits.maxSize);
    const free = await this.store.freeBytes();
    // Sparse files take their space as they fill: what open attachments declared is spoken for.
    if (free !== null && free - (await this.repo.reservedBytes()) - (input.size ?? 0) < this.limits.minFreeBytes) {
      throw new ApiError('insufficient_storage', 'The server does not have room for an attachment of this size.');
    }
    // In place, the upload is a blob from the start; with pieces, this key names the assembled file-to-be.
    const storageKey = this.store.kind === 'inPlace' ? await this.store.createUpload(input.size ?? 0) : crypto.randomUUID();
    const now = this.clock.now();
    try {
      const outcome = await this.repo.createWithinLimit(
        {
          userId,
          filename: input.filename,
          contentType: input.contentType,
          size: input.size,
          storageKey,
          createdAt: now,
          expiresAt: now + this.limits.idleTimeoutMs,
          consumes: input.consumes,
        },
        { maxOpen: this.limits.maxOpenPerUser, maxReservedBytes: this.limits.maxReservedBytes },
      );
      if ('tooManyOpen' in outcome) throw this.tooManyOpen();
      if ('overReservation' in outcome) throw reservationLimit(this.limits.maxReservedBytes, outcome.overReservation.reservedBytes, input.size ?? 0);
      return outcome.created;
    } catch (error) {
      await this.store.deleteBlob(storageKey);
      throw error;
    }
  }

  private tooManyOpen(): ApiError {
    const max = this.limits.maxOpenPerUser;
    return new ApiError(
      'too_many_open_attachments',
      `You already have ${max} open attachments (uploading, or complete but not used yet); use or delete some first (GET /attachments lists them).`,
      { max_open: max },
    );
  }

  /** The caller's attachment; anyone else's is reported as not found. */
  async getOwned(userId: number, id: number): Promise<AttachmentRecord> {
    const record = await this.repo.findOwned(id, userId);
    if (!record) throw new ApiError('not_found', 'No such attachment.');
    return record;
  }

  /** The caller's attachment as a client should see it: completed if every byte is there. */
  async status(userId: number, id: number): Promise<AttachmentRecord> {
    return this.engine.completeIfWhole(await this.getOwned(userId, id));
  }

  /** An attachment by id (anyone's), completed if every byte is there; for using it. */
  async findForUse(id: number): Promise<AttachmentRecord | null> {
    const record = await this.repo.findById(id);
    return record ? this.engine.completeIfWhole(record) : null;
  }

  /** Completes whole attachments left uploading by a crash; resolves how many. */
  async completeStragglers(batch = 20): Promise<number> {
    let completed = 0;
    for (const record of await this.repo.findWholeUploading(batch)) {
      if ((await this.engine.completeIfWhole(record)).state === 'complete') completed += 1;
    }
    return completed;
  }

  async delete(userId: number, id: number): Promise<void> {
    await this.remove(await this.getOwned(userId, id));
  }

  /** The caller's attachments not used yet (SPEC 3.9): what counts against the limits, newest first. */
  list(userId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<AttachmentRecord[]> {
    return this.repo.listOpen(userId, page);
  }

  /**
   * Deletes the partial uploads a complete final concatenation was made of (tus): the final
   * holds their bytes now, and nobody would clean them up otherwise. One that another final
   * has consumed since, or that was used meanwhile, stays.
   */
  async deleteConsumed(final: AttachmentRecord): Promise<void> {
    if (final.state === 'uploading') return;
    for (const part of await this.repo.findConsumedBy(final.id)) {
      await this.deleteWithBytes(part, () => this.repo.deleteIfConsumedBy(part.id, final.id));
    }
  }

  /** Creates an attachment whose first chunk comes with it; if the chunk fails, nothing remains. */
  async createWithChunk(userId: number, input: NewAttachmentInput, chunk: ChunkInput): Promise<AttachmentRecord> {
    if (chunk.length !== undefined && chunk.offset + chunk.length > (input.size ?? this.limits.maxSize)) {
      throw input.size === null ? tooLarge(this.limits.maxSize) : outOfRange(chunk.offset, chunk.length, input.size);
    }
    const record = await this.create(userId, input);
    try {
      return await this.writeChunk(userId, record.id, chunk);
    } catch (error) {
      await this.remove(record).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Fixes the size of an attachment created without one (SPEC 3.8); for one whose size
   * is known, the same size is a no-op and another is 409 size_mismatch.
   */
  async setSize(userId: number, id: number, size: number): Promise<AttachmentRecord> {
    const record = await this.getOwned(userId, id);
    if (record.state === 'used') {
      throw new ApiError('attachment_used', 'The attachment has been used and can no longer change.', { used_by: record.usedBy });
    }
    return this.engine.completeIfWhole(await this.engine.fixSize(record, size));
  }

  /** Writes a chunk to the caller's attachment (anyone else's is not found); the engine does the rest. */
  async writeChunk(userId: number, id: number, chunk: ChunkInput): Promise<AttachmentRecord> {
    return this.engine.addChunk(await this.getOwned(userId, id), chunk);
  }

  /** Piece stores: a blob made for this attachment becomes its bytes at `offset` (UploadEngine.adoptPiece); false elsewhere. */
  async adoptPiece(userId: number, id: number, offset: number, size: number, storageKey: string): Promise<AttachmentRecord | false> {
    return this.engine.adoptPiece(await this.getOwned(userId, id), offset, size, storageKey);
  }

  private async remove(record: AttachmentRecord): Promise<void> {
    if (await this.deleteWithBytes(record, () => this.repo.deleteUnused(record.id))) return;
    // Used (or deleted) since it was read: the bytes now belong to what uses it.
    const current = await this.repo.findById(record.id);
    if (current?.state === 'used') {
      throw new ApiError('attachment_used', 'The attachment has been used; delete what uses it instead.', { used_by: current.usedBy });
    }
    throw new ApiError('not_found', 'No such attachment.');
  }

  /**
   * Deletes the row by `deleteRow` (a conditional delete), then, only if it went, its bytes: the
   * blob, and the pieces of an upload kept as pieces (read first: they go with the row); a
   * backup's hold leaves them to the orphan sweep (ForgottenBlobs).
   */
  private async deleteWithBytes(record: AttachmentRecord, deleteRow: () => Promise<boolean>): Promise<boolean> {
    const pieces = this.store.kind === 'pieces' ? ((await this.repo.findLayout(record.id))?.pieces ?? []) : [];
    if (!(await deleteRow())) return false;
    this.engine.forget(record.id);
    await this.forgotten.delete([record.storageKey]);
    await this.forgotten.delete(pieces.map((piece) => piece.storageKey)).catch(() => undefined);
    return true;
  }

  /** Deletes attachments that were left unused past their expiry; resolves how many. */
  async sweepExpired(batch = 100): Promise<number> {
    const now = this.clock.now();
    let removed = 0;
    // Pages past rows with a request in flight, so busy rows never starve the rest.
    for (let page = 0, after: ExpiryCursor | undefined; page < MAX_SWEEP_PAGES && removed < batch; page += 1) {
      const records = await this.repo.findExpired(now, batch, after);
      for (const record of records) {
        if (this.engine.isActive(record.id)) continue;
        if (await this.deleteWithBytes(record, () => this.repo.deleteIfExpired(record.id, now))) removed += 1;
      }
      const last = records.at(-1);
      if (!last || records.length < batch) break;
      after = { expiresAt: last.expiresAt ?? now, id: last.id };
    }
    return removed;
  }
}
