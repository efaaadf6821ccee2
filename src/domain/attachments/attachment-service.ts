/**
 * Chunked attachments: create, add chunks, read status, abort, expire.
 * The rules of SPEC 3.6 live here; HTTP, SQL and files stay behind the ports.
 */
import { ApiError, invalidParameter } from '../errors.js';
import type { EventOutbox } from '../events/events.js';
import type { TransactionScope } from '../jobs/job-queue.js';
import { noMetrics, type Metrics } from '../metrics.js';
import type { AttachmentRecord, AttachmentRepository, BlobStore, Clock, ExpiryCursor, PrefixHasher, UploadHandle } from '../ports.js';
import { ChunkWriter } from './chunk-writer.js';
import { RegionHold } from './region-locks.js';
import { contiguousPrefix, countAfterAdding, intersect, missingRanges, type ByteRange } from './ranges.js';
import { UploadStates, type UploadState } from './upload-state.js';

export interface AttachmentLimits {
  maxSize: number;
  maxOpenPerUser: number;
  idleTimeoutMs: number;
  /** Separate received ranges one attachment may have. */
  maxRanges: number;
  /** Free space that must remain after an attachment of the requested size. */
  minFreeBytes: number;
}

export interface NewAttachmentInput {
  /** Null when the size is not known yet (SPEC 3.8); fixed later with setSize or a chunk's size. */
  size: number | null;
  filename: string;
  contentType: string | null;
}

export interface ChunkInput {
  offset: number;
  source: AsyncIterable<Buffer>;
  /** The chunk's length when the transport declares it (a raw body's Content-Length). */
  length?: number | undefined;
  sha1?: string | undefined;
  size?: number | undefined;
  /** Parameters that arrive after the bytes, e.g. multipart fields after the file part. */
  trailing?: (() => Promise<TrailingChunkParams>) | undefined;
  signal?: AbortSignal | undefined;
}

export interface TrailingChunkParams {
  sha1?: string | undefined;
  size?: number | undefined;
}

/** Sniffs the content type of a complete upload from its first bytes. */
export type ContentSniffer = (head: Buffer) => Promise<string | null>;

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

const SHA1_HEX = /^[0-9a-f]{40}$/;

export function normalizeSha1(value: string, parameter: string): string {
  const lower = value.trim().toLowerCase();
  if (!SHA1_HEX.test(lower)) throw invalidParameter(parameter, 'must be 40 hexadecimal digits');
  return lower;
}

/** Pages of expired attachments one sweep looks through at most (a bound on its time). */
const MAX_SWEEP_PAGES = 100;

/** What content sniffing reads of a file's head (file-type's own need). */
const SNIFF_BYTES = 4100;

export class AttachmentService {
  private readonly states: UploadStates;
  /** Set by the composition root when the server exports metrics. */
  metrics: Metrics = noMetrics;
  /** Set by the composition root when webhooks are on: attachment.completed is recorded here. */
  events: EventOutbox | null = null;

  constructor(
    private readonly repo: AttachmentRepository,
    private readonly store: BlobStore,
    private readonly clock: Clock,
    readonly limits: AttachmentLimits,
    private readonly sniff: ContentSniffer,
    hasher: PrefixHasher,
  ) {
    this.states = new UploadStates(hasher);
  }

  async create(userId: number, input: NewAttachmentInput): Promise<AttachmentRecord> {
    if (input.size !== null && input.size > this.limits.maxSize) throw this.tooLarge();
    const free = await this.store.freeBytes();
    // Sparse files take their space as they fill: what open attachments declared is spoken for.
    if (free !== null && free - (await this.repo.reservedBytes()) - (input.size ?? 0) < this.limits.minFreeBytes) {
      throw new ApiError('insufficient_storage', 'The server does not have room for an attachment of this size.');
    }
    const storageKey = await this.store.createUpload(input.size ?? 0);
    const now = this.clock.now();
    try {
      const record = await this.repo.createWithinLimit(
        { userId, filename: input.filename, contentType: input.contentType, size: input.size, storageKey, createdAt: now, expiresAt: now + this.limits.idleTimeoutMs },
        this.limits.maxOpenPerUser,
      );
      if (!record) {
        throw new ApiError('too_many_open_attachments', `You already have ${this.limits.maxOpenPerUser} unfinished attachments; finish, use or delete one first.`, {
          max_open: this.limits.maxOpenPerUser,
        });
      }
      return record;
    } catch (error) {
      await this.store.deleteUpload(storageKey);
      throw error;
    }
  }

  /** The caller's attachment; anyone else's is reported as not found. */
  async getOwned(userId: number, id: number): Promise<AttachmentRecord> {
    const record = await this.repo.findOwned(id, userId);
    if (!record) throw new ApiError('not_found', 'No such attachment.');
    return record;
  }

  /** The caller's attachment as a client should see it: completed if every byte is there. */
  async status(userId: number, id: number): Promise<AttachmentRecord> {
    return this.completeIfWhole(await this.getOwned(userId, id));
  }

  /** An attachment by id (anyone's), completed if every byte is there; for using it. */
  async findForUse(id: number): Promise<AttachmentRecord | null> {
    const record = await this.repo.findById(id);
    return record ? this.completeIfWhole(record) : null;
  }

  /**
   * A crash between recording the last range and marking the attachment complete leaves
   * it whole but "uploading"; finish the job (hashing it from disk) whenever it is seen.
   */
  private async completeIfWhole(record: AttachmentRecord): Promise<AttachmentRecord> {
    if (record.state !== 'uploading' || record.size === null || record.receivedBytes !== record.size) return record;
    return this.finalize(this.states.obtain(record), record);
  }

  /** Completes whole attachments left uploading by a crash; resolves how many. */
  async completeStragglers(batch = 20): Promise<number> {
    let completed = 0;
    for (const record of await this.repo.findWholeUploading(batch)) {
      if ((await this.completeIfWhole(record)).state === 'complete') completed += 1;
    }
    return completed;
  }

  async delete(userId: number, id: number): Promise<void> {
    await this.remove(await this.getOwned(userId, id));
  }

  /** Creates an attachment whose first chunk comes with it; if the chunk fails, nothing remains. */
  async createWithChunk(userId: number, input: NewAttachmentInput, chunk: ChunkInput): Promise<AttachmentRecord> {
    if (chunk.length !== undefined && chunk.offset + chunk.length > (input.size ?? this.limits.maxSize)) {
      throw input.size === null ? this.tooLarge() : outOfRange(chunk.offset, chunk.length, input.size);
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
    return this.completeIfWhole(await this.fixSize(record, size));
  }

  async writeChunk(userId: number, id: number, chunk: ChunkInput): Promise<AttachmentRecord> {
    const finished = this.metrics.uploadStarted();
    try {
      const record = await this.receiveChunk(userId, id, chunk);
      this.metrics.chunkAccepted();
      return record;
    } catch (error) {
      this.metrics.chunkRejected(error instanceof ApiError ? error.errorName : 'internal_error');
      throw error;
    } finally {
      finished();
    }
  }

  private async receiveChunk(userId: number, id: number, chunk: ChunkInput): Promise<AttachmentRecord> {
    let record = await this.getOwned(userId, id);
    this.checkChunkBeforeBytes(record, chunk);
    // A size sent with the chunk is fixed before its bytes, which must then fit within it.
    if (chunk.size !== undefined && record.size === null) record = await this.fixSize(record, chunk.size);
    // No expiry update here: the commit pushes it forward, and the sweep skips uploads in flight.

    const state = this.states.obtain(record);
    state.activeRequests += 1;
    let upload: UploadHandle | null = null;
    let writer: ChunkWriter | null = null;
    try {
      upload = await this.store.openUpload(record.storageKey).catch((error: NodeJS.ErrnoException) => {
        // Deleted (or expired) between the look-up and now.
        throw error.code === 'ENOENT' ? new ApiError('not_found', 'No such attachment.') : error;
      });
      writer = new ChunkWriter(state, upload, this.store, chunk.offset);
      const result = await writer.consume(chunk.source, {
        declaredLength: chunk.length,
        hashChunk: chunk.sha1 !== undefined,
        signal: chunk.signal,
        unknownSizeLimit: this.limits.maxSize,
      });
      if (result.outOfRange) throw state.size === null ? this.tooLarge() : outOfRange(chunk.offset, undefined, state.size);

      // Parameters after the bytes can still reject the chunk; a cut-off source has none.
      const trailing = result.sourceError === null && chunk.trailing ? await chunk.trailing() : {};
      const expectedSha1 = chunk.sha1 ?? trailing.sha1;
      const end = chunk.offset + result.written;
      if (trailing.size !== undefined) {
        if (state.size === null) {
          // This chunk's own region lies below the size, so fixing it cannot wait on our hold.
          if (end > trailing.size) throw outOfRange(chunk.offset, result.written, trailing.size);
          record = await this.fixSize(record, trailing.size);
        } else if (trailing.size !== state.size) {
          throw sizeMismatch(state.size, trailing.size);
        }
      }

      if (expectedSha1 !== undefined) {
        // An unverifiable prefix is worth nothing: a cut-off checksummed chunk records no bytes.
        if (result.sourceError !== null) throw result.sourceError;
        const actual = result.digest ?? (await writer.digestWritten(end));
        if (actual !== expectedSha1) {
          throw new ApiError('chunk_checksum_mismatch', 'The chunk does not match its chunk_sha1; nothing was recorded.', {
            expected: expectedSha1,
            actual,
          });
        }
      }
      if (result.sourceError === null && result.written === 0) throw invalidParameter('attachment[chunk]', 'must not be empty');
      if (intersect(writer.replacedRanges, chunk.offset, end).length > 0 && record.state !== 'uploading') {
        throw new ApiError('attachment_complete', 'The attachment is complete; this chunk would change bytes already received.');
      }

      let committed = record;
      if (result.written > 0) {
        committed = await this.commit(state, record, upload, writer, chunk.offset, end);
        // Our bytes are recorded: let go of the region before hashing the rest of the file.
        writer.releaseRegion();
        if (chunk.offset < SNIFF_BYTES && committed.state === 'uploading') committed = await this.sniffEarly(committed, upload);
        if (committed.state === 'uploading' && committed.size !== null && committed.receivedBytes === committed.size) {
          committed = await this.finalize(state, committed);
        }
      }
      if (result.sourceError !== null) throw result.sourceError;
      return committed;
    } finally {
      await writer?.close();
      await upload?.close();
      state.activeRequests -= 1;
    }
  }

  /** Makes a chunk's bytes durable, then records them. */
  private async commit(
    state: UploadState,
    record: AttachmentRecord,
    upload: UploadHandle,
    writer: ChunkWriter,
    start: number,
    end: number,
  ): Promise<AttachmentRecord> {
    const replaced = intersect(writer.replacedRanges, start, end);
    if (replaced.length === 0) await upload.sync();
    return state.serializeCommit(async () => {
      if (replaced.length > 0) {
        // Changing received bytes must not race the completion of the file.
        const current = await this.repo.findById(record.id);
        if (current && current.state !== 'uploading') {
          throw new ApiError('attachment_complete', 'The attachment is complete; this chunk would change bytes already received.');
        }
        await writer.applyReplacements(end);
        await upload.sync();
      }
      const now = this.clock.now();
      const outcome = await this.repo.recordRange(record.id, { start, end }, this.limits.maxRanges, now, now + this.limits.idleTimeoutMs);
      if ('gone' in outcome) throw new ApiError('not_found', 'The attachment was deleted while the chunk was arriving.');
      if ('tooManyRanges' in outcome) throw tooManyRanges(this.limits.maxRanges);
      const updated = outcome.recorded;
      // The size was fixed below this chunk's end meanwhile (SPEC 3.8); nothing was recorded.
      if (updated.size !== null && end > updated.size) throw outOfRange(start, end - start, updated.size);
      state.observe(updated);
      if (updated.size !== null) state.size = updated.size;
      if (replaced[0]) state.invalidateHashFrom(replaced[0][0]);
      if (updated.size === null || updated.receivedBytes < updated.size) state.scheduleHashing();
      return updated;
    });
  }

  /**
   * Hashes whatever of the file is not hashed yet, then marks it complete. The digest
   * and the state change happen under the commit lock, so a chunk that changes bytes
   * either lands before (and the hash is redone) or is refused as too late.
   */
  private async finalize(state: UploadState, record: AttachmentRecord): Promise<AttachmentRecord> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < 8; attempt += 1) {
      // A failed pass (the hash was lost) starts over on the next attempt.
      await state.hashToEnd().catch((error: unknown) => (lastError = error));
      const done = await state.serializeCommit(async () => {
        const sha1 = await state.digestIfWhole();
        if (sha1 === null) return null;
        const contentType = (await this.sniffHead(record.storageKey)) ?? record.contentType;
        const now = this.clock.now();
        const events = this.events;
        const outbox = events && ((scope: TransactionScope) => events.record({ type: 'attachment.completed', subjectId: record.id, occurredAt: now }, scope));
        const completed = await this.repo.markComplete(record.id, sha1, contentType, now, now + this.limits.idleTimeoutMs, outbox ?? undefined);
        if (completed) this.metrics.attachmentCompleted();
        return completed ?? (await this.repo.findById(record.id));
      });
      if (done) {
        this.states.forget(record.id);
        return done;
      }
    }
    // Deleted (or expired) while it was being hashed: its file went with it.
    if (!(await this.repo.findById(record.id))) throw new ApiError('not_found', 'The attachment was deleted while it was being completed.');
    throw new Error(`attachment ${record.id} could not be hashed to completion`, { cause: lastError });
  }

  /** SPEC 3.4: the type is sniffed as soon as the file's first bytes are there, not only at completion. */
  private async sniffEarly(record: AttachmentRecord, upload: UploadHandle): Promise<AttachmentRecord> {
    const prefix = Math.min(contiguousPrefix(record.ranges), SNIFF_BYTES);
    if (prefix === 0) return record;
    const head = Buffer.alloc(prefix);
    const read = await upload.read(head, 0, prefix);
    const sniffed = await this.sniff(head.subarray(0, read));
    if (sniffed === null || sniffed === record.contentType) return record;
    return (await this.repo.setContentType(record.id, sniffed)) ?? record;
  }

  /**
   * Fixes an unknown size. Writers past the new end in this process are waited for (and
   * then refused); the database refuses a size below a recorded byte. Bytes of failed
   * chunks past the end are cut off so the file is exactly `size` long.
   */
  private async fixSize(record: AttachmentRecord, size: number): Promise<AttachmentRecord> {
    if (record.size !== null) {
      if (record.size !== size) throw sizeMismatch(record.size, size);
      return record;
    }
    if (size > this.limits.maxSize) throw this.tooLarge();
    const state = this.states.obtain(record);
    const hold = new RegionHold();
    state.activeRequests += 1;
    await state.locks.acquire(hold, size, Math.max(size, this.limits.maxSize) + 1);
    try {
      const fixed = await this.repo.fixSize(record.id, size, this.clock.now());
      if (!fixed) throw new ApiError('not_found', 'No such attachment.');
      if (fixed.size === null) {
        const receivedUpTo = highestByte(fixed.ranges);
        throw new ApiError('size_mismatch', `attachment[size] is ${size}, but bytes up to ${receivedUpTo} have been received.`, {
          given: size,
          received_up_to: receivedUpTo,
        });
      }
      if (fixed.size !== size) throw sizeMismatch(fixed.size, size);
      state.size = size;
      const upload = await this.store.openUpload(record.storageKey);
      try {
        await upload.truncate(size);
        await upload.sync();
      } finally {
        await upload.close();
      }
      return fixed;
    } finally {
      state.locks.release(hold);
      state.activeRequests -= 1;
    }
  }

  private tooLarge(): ApiError {
    return new ApiError('attachment_too_large', `The attachment is larger than the maximum of ${this.limits.maxSize} bytes.`, {
      max_size: this.limits.maxSize,
    });
  }

  private checkChunkBeforeBytes(record: AttachmentRecord, chunk: ChunkInput): void {
    if (record.state === 'used') {
      throw new ApiError('attachment_used', 'The attachment has been used and can no longer change.', { used_by: record.usedBy });
    }
    if (chunk.size !== undefined && record.size !== null && chunk.size !== record.size) throw sizeMismatch(record.size, chunk.size);
    if (chunk.size !== undefined && chunk.size > this.limits.maxSize) throw this.tooLarge();
    // With the size coming in this request, the chunk is checked against it; else against what is known.
    const size = record.size ?? chunk.size ?? null;
    const bound = size ?? this.limits.maxSize;
    const refuse = () => (size === null ? this.tooLarge() : outOfRange(chunk.offset, chunk.length, size));
    if (chunk.length !== undefined) {
      if (chunk.length === 0) throw invalidParameter('attachment[chunk]', 'must not be empty');
      if (chunk.offset + chunk.length > bound) throw refuse();
      // Refused before its bytes are read; a chunk of unknown length is checked when it is recorded.
      const ranges = countAfterAdding(record.ranges, chunk.offset, chunk.offset + chunk.length);
      if (ranges > Math.max(this.limits.maxRanges, record.ranges.length)) throw tooManyRanges(this.limits.maxRanges);
    } else if (chunk.offset >= bound) {
      throw refuse();
    }
  }

  private async sniffHead(storageKey: string): Promise<string | null> {
    const handle = await this.store.openUpload(storageKey);
    try {
      const head = Buffer.alloc(SNIFF_BYTES);
      const read = await handle.read(head, 0, head.length);
      return await this.sniff(head.subarray(0, read));
    } finally {
      await handle.close();
    }
  }

  private async remove(record: AttachmentRecord): Promise<void> {
    if (!(await this.repo.deleteUnused(record.id))) {
      // Used (or deleted) since it was read: the bytes now belong to what uses it.
      const current = await this.repo.findById(record.id);
      if (current?.state === 'used') {
        throw new ApiError('attachment_used', 'The attachment has been used; delete what uses it instead.', { used_by: current.usedBy });
      }
      throw new ApiError('not_found', 'No such attachment.');
    }
    this.states.forget(record.id);
    await this.store.deleteUpload(record.storageKey);
  }

  /** Deletes attachments that were left unused past their expiry; resolves how many. */
  async sweepExpired(batch = 100): Promise<number> {
    const now = this.clock.now();
    let removed = 0;
    // Pages past rows with a request in flight, so busy rows never starve the rest.
    for (let page = 0, after: ExpiryCursor | undefined; page < MAX_SWEEP_PAGES && removed < batch; page += 1) {
      const records = await this.repo.findExpired(now, batch, after);
      for (const record of records) {
        if (this.states.isActive(record.id)) continue;
        if (await this.repo.deleteIfExpired(record.id, now)) {
          this.states.forget(record.id);
          await this.store.deleteUpload(record.storageKey);
          removed += 1;
        }
      }
      const last = records.at(-1);
      if (!last || records.length < batch) break;
      after = { expiresAt: last.expiresAt ?? now, id: last.id };
    }
    return removed;
  }
}

/** The end of the highest byte received (0 for none). */
function highestByte(ranges: ByteRange[]): number {
  return ranges.at(-1)?.[1] ?? 0;
}

function outOfRange(offset: number, length: number | undefined, size: number): ApiError {
  return new ApiError(
    'chunk_out_of_range',
    `The chunk at offset ${offset} extends past the end of the ${size}-byte attachment; nothing was written.`,
    { chunk_offset: offset, ...(length !== undefined ? { chunk_length: length } : {}), size },
  );
}

function tooManyRanges(maxRanges: number): ApiError {
  return new ApiError(
    'too_many_ranges',
    `The chunk would leave the attachment in more than ${maxRanges} separate ranges; nothing was recorded. Send chunks that fill the gaps first.`,
    { max_ranges: maxRanges },
  );
}

function sizeMismatch(expected: number, given: number): ApiError {
  return new ApiError('size_mismatch', `attachment[size] is ${given}, but the attachment was created with size ${expected}.`, {
    size: expected,
    given,
  });
}
