/**
 * The upload engine: how a chunk becomes part of an upload, whatever protocol carried it
 * (REST chunks, tus, the IETF draft) and whatever store keeps it. It owns the sequence:
 *
 *   admit    → checks against the row before any byte is read
 *   receive  → the bytes go from the request to the store (in place, or as a piece)
 *   verify   → checksum and trailing parameters; a refused chunk records nothing
 *   commit   → durable first (the receiver), then recorded by one conditional write that
 *              applies planCommit (commit-plan.ts), or under the row lock when the row moved
 *   finalize → once every byte is there: the SHA1, and completion decided by the database
 *
 * The engine checks what a chunk may do to its row (size, ranges, the bytes declared) and moves
 * its expiry; who may write to which attachment, the limits at creation and the sweep of
 * expired ones stay outside, in AttachmentService. Every fact another node needs is in the
 * database; UploadStates is this process's cache.
 */
import { ApiError, invalidParameter } from '../errors.js';
import type { EventOutbox } from '../events/ports.js';
import type { ForgottenBlobs } from '../maintenance/forgotten-blobs.js';
import type { TransactionScope } from '../jobs/ports.js';
import type { Metrics } from '../metrics.js';
import type { AttachmentRecord, AttachmentRepository, ContentSniffer, PrefixHasher, RangeCommit } from './ports.js';
import type { BlobStore } from '../storage/ports.js';
import type { Clock } from '../clock.js';
import type { ChunkReceiver, ChunkWriteResult } from './chunk-receiver.js';
import { exceedsRanges } from './commit-plan.js';
import { InPlaceReceiver } from './in-place-receiver.js';
import { PieceReceiver } from './piece-receiver.js';
import { contiguousPrefix, highestByte } from './ranges.js';
import { RegionHold } from './region-locks.js';
import { reservationLimit } from './reservations.js';
import { isMissingBlob, sliceLayout, UploadBytes } from './upload-bytes.js';
import { UploadStates, type LocalBytes, type UploadState } from './upload-state.js';

export interface EngineLimits {
  maxSize: number;
  idleTimeoutMs: number;
  /** Separate received ranges one attachment may have. */
  maxRanges: number;
  /** Bytes one user's attachments still uploading may declare but not have received (a size fixed later declares too). */
  maxReservedBytes: number;
}

export interface ChunkInput {
  offset: number;
  source: AsyncIterable<Buffer>;
  /** The chunk's length when the transport declares it (a raw body's Content-Length). */
  length?: number | undefined;
  sha1?: string | undefined;
  size?: number | undefined;
  /**
   * An append (tus, the IETF draft): its bytes are recorded only if the upload's offset (the
   * bytes received contiguously from 0) is still `offset` when they are; else AppendOffsetMoved.
   */
  append?: boolean | undefined;
  /** Parameters that arrive after the bytes, e.g. multipart fields after the file part. */
  trailing?: (() => Promise<TrailingChunkParams>) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Called with each piece of `source` once its bytes are written and nothing here reads it
   * again: a transport whose pieces are its own gives their memory back then.
   */
  releasePiece?: ((piece: Buffer) => void) | undefined;
}

/** An append lost the race for its offset: nothing of it was recorded. `offset` is the upload's now. */
export class AppendOffsetMoved extends Error {
  readonly offset: number;

  constructor(offset: number) {
    super(`The upload's offset is ${offset} now; nothing of the append was recorded.`);
    this.offset = offset;
  }
}

export interface TrailingChunkParams {
  sha1?: string | undefined;
  size?: number | undefined;
}

/** What content sniffing reads of a file's head (file-type's own need). */
const SNIFF_BYTES = 4100;

/**
 * Chunks' scratch copies of one upload that may wait for their hash after their replies; past
 * that a reply waits too, so a client faster than the hashing cannot pile them up on disk.
 */
const MAX_LOCAL_HASHES_PENDING = 2;

/** Completion attempts before giving up on an upload whose bytes keep changing under it. */
const FINALIZE_ATTEMPTS = 8;

export interface UploadEngineDeps {
  repo: AttachmentRepository;
  store: BlobStore;
  /** Reads uploads as they stand (in place, or through their pieces). */
  bytes: UploadBytes;
  clock: Clock;
  limits: EngineLimits;
  sniff: ContentSniffer;
  /** Running SHA1s of the uploads' prefixes. */
  hasher: PrefixHasher;
  metrics: Metrics;
  /** Where attachment.completed is recorded (webhooks); null when nobody listens. */
  events: EventOutbox | null;
  /** Deletes the pieces of completed uploads (unless a backup holds deletions). */
  forgotten: ForgottenBlobs;
}

export class UploadEngine {
  private readonly repo: AttachmentRepository;
  private readonly store: BlobStore;
  private readonly bytes: UploadBytes;
  private readonly clock: Clock;
  private readonly limits: EngineLimits;
  private readonly sniff: ContentSniffer;
  private readonly metrics: Metrics;
  private readonly events: EventOutbox | null;
  private readonly forgotten: ForgottenBlobs;
  /** This process's cache of the uploads it works on. */
  private readonly states: UploadStates;

  constructor(deps: UploadEngineDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.bytes = deps.bytes;
    this.clock = deps.clock;
    this.limits = deps.limits;
    this.sniff = deps.sniff;
    this.metrics = deps.metrics;
    this.events = deps.events;
    this.forgotten = deps.forgotten;
    this.states = new UploadStates(deps.hasher, (record) => this.bytes.snapshot(record));
  }

  /** True while a request of this process writes to the attachment. */
  isActive(attachmentId: number): boolean {
    return this.states.isActive(attachmentId);
  }

  forget(attachmentId: number): void {
    this.states.forget(attachmentId);
  }

  /**
   * Piece stores: records a blob already in the store (made for this attachment alone) as the
   * piece holding bytes [offset, offset + size), without a byte passing through this process,
   * then goes on as after any chunk (hash, sniff, finalize). False where uploads are written
   * in place: the caller sends the bytes as a chunk instead.
   */
  async adoptPiece(found: AttachmentRecord, offset: number, size: number, storageKey: string): Promise<AttachmentRecord | false> {
    if (this.store.kind !== 'pieces') return false;
    if (found.size === null || offset + size > found.size) throw outOfRange(offset, size, found.size ?? 0);
    const state = this.states.obtain(found);
    state.activeRequests += 1;
    try {
      const piece = { storageKey, compared: false, comparedThrough: 0 };
      const committed = await this.recordRange(state, found.id, { start: offset, end: offset + size, changesRecorded: false, piece, seen: state.latest });
      return committed.state === 'uploading' ? await this.afterCommit(state, null, committed, offset) : committed;
    } finally {
      state.activeRequests -= 1;
    }
  }

  /** Checks a chunk against the row before any byte is read; throws what the client must hear. */
  private checkBeforeBytes(record: AttachmentRecord, chunk: ChunkInput): void {
    if (record.state === 'used') {
      throw new ApiError('attachment_used', 'The attachment has been used and can no longer change.', { used_by: record.usedBy });
    }
    if (chunk.size !== undefined && record.size !== null && chunk.size !== record.size) throw sizeMismatch(record.size, chunk.size);
    if (chunk.size !== undefined && chunk.size > this.limits.maxSize) throw tooLarge(this.limits.maxSize);
    // With the size coming in this request, the chunk is checked against it; else against what is known.
    const size = record.size ?? chunk.size ?? null;
    const bound = size ?? this.limits.maxSize;
    const refuse = () => (size === null ? tooLarge(this.limits.maxSize) : outOfRange(chunk.offset, chunk.length, size));
    if (chunk.length !== undefined) {
      if (chunk.length === 0) throw invalidParameter('attachment[chunk]', 'must not be empty');
      if (chunk.offset + chunk.length > bound) throw refuse();
      // Refused before its bytes are read; a chunk of unknown length is checked when it is recorded.
      if (exceedsRanges(record.ranges, chunk.offset, chunk.offset + chunk.length, this.limits.maxRanges)) throw tooManyRanges(this.limits.maxRanges);
    } else if (chunk.offset > bound) {
      // A body of unknown length at the very end may still be empty: it is refused when a byte past it arrives.
      throw refuse();
    }
  }

  /**
   * Adds one chunk to an upload: receives, verifies and commits it. The caller has found the
   * row and checked that it may write to it (AttachmentService.writeChunk).
   */
  async addChunk(found: AttachmentRecord, chunk: ChunkInput): Promise<AttachmentRecord> {
    const finished = this.metrics.chunkRequestStarted();
    try {
      const record = await this.receiveChunk(found, chunk);
      this.metrics.chunkAccepted();
      return record;
    } catch (error) {
      this.metrics.chunkRejected(error instanceof ApiError ? error.errorName : 'internal_error');
      throw error;
    } finally {
      finished();
    }
  }

  private async openReceiver(state: UploadState, record: AttachmentRecord, offset: number): Promise<ChunkReceiver> {
    const store = this.store;
    if (store.kind === 'pieces') return new PieceReceiver(store, this.bytes, record, offset);
    const upload = await store.openUpload(record.storageKey).catch((error: NodeJS.ErrnoException) => {
      // Deleted (or expired) between the look-up and now.
      throw error.code === 'ENOENT' ? new ApiError('not_found', 'No such attachment.') : error;
    });
    return new InPlaceReceiver(state, upload, this.store, offset);
  }

  /**
   * One chunk, in phases: admit (before any byte), receive, verify, commit (durable, then
   * recorded), and after the commit: hash, sniff, finalize.
   */
  private async receiveChunk(found: AttachmentRecord, chunk: ChunkInput): Promise<AttachmentRecord> {
    let record = await this.admit(found, chunk);
    const state = this.states.obtain(record);
    state.activeRequests += 1;
    let receiver: ChunkReceiver | null = null;
    try {
      receiver = await this.openReceiver(state, record, chunk.offset);
      const result = await this.receive(receiver, state, chunk);
      record = await this.verify(receiver, state, record, chunk, result);
      let committed = record;
      if (result.written > 0) {
        committed = await this.commit(state, receiver, record, chunk, chunk.offset + result.written);
        // Our bytes are recorded: let go of the region before hashing the rest of the file.
        receiver.releaseRegion();
        if (committed.state === 'uploading') committed = await this.afterCommit(state, receiver.takeLocalSource(), committed, chunk.offset);
      }
      if (result.sourceError !== null) throw result.sourceError;
      return committed;
    } finally {
      await receiver?.close();
      state.activeRequests -= 1;
    }
  }

  /** Before any byte: the chunk fits the row, a size it carries is fixed, a near expiry moves. */
  private async admit(found: AttachmentRecord, chunk: ChunkInput): Promise<AttachmentRecord> {
    let record = found;
    this.checkBeforeBytes(record, chunk);
    // A size sent with the chunk is fixed before its bytes, which must then fit within it.
    if (chunk.size !== undefined && record.size === null) record = await this.fixSize(record, chunk.size);
    // The commit pushes the expiry forward; one that is near already moves now, in the database,
    // so that no node's sweep takes an upload a request is writing to.
    const now = this.clock.now();
    if (record.expiresAt !== null && record.expiresAt - now < this.limits.idleTimeoutMs / 2) {
      await this.repo.extendExpiry(record.id, now + this.limits.idleTimeoutMs);
    }
    return record;
  }

  /** The bytes go from the request to the store; a source that breaks off keeps what arrived. */
  private async receive(receiver: ChunkReceiver, state: UploadState, chunk: ChunkInput): Promise<ChunkWriteResult> {
    const result = await receiver.consume(chunk.source, {
      declaredLength: chunk.length,
      hashChunk: chunk.sha1 !== undefined,
      signal: chunk.signal,
      unknownSizeLimit: this.limits.maxSize,
      releasePiece: chunk.releasePiece,
    });
    if (result.outOfRange) throw state.size === null ? tooLarge(this.limits.maxSize) : outOfRange(chunk.offset, undefined, state.size);
    return result;
  }

  /** Parameters after the bytes (a multipart size or SHA1) can still refuse the chunk; a cut-off source has none. */
  private async verify(receiver: ChunkReceiver, state: UploadState, record: AttachmentRecord, chunk: ChunkInput, result: ChunkWriteResult): Promise<AttachmentRecord> {
    const trailing = result.sourceError === null && chunk.trailing ? await chunk.trailing() : {};
    const expectedSha1 = chunk.sha1 ?? trailing.sha1;
    const end = chunk.offset + result.written;
    let verified = record;
    if (trailing.size !== undefined) {
      if (state.size === null) {
        // This chunk's own region lies below the size, so fixing it cannot wait on our hold.
        if (end > trailing.size) throw outOfRange(chunk.offset, result.written, trailing.size);
        verified = await this.fixSize(record, trailing.size);
      } else if (trailing.size !== state.size) {
        throw sizeMismatch(state.size, trailing.size);
      }
    }
    // A cut-off chunk cannot be checked against its SHA1; it keeps the prefix that arrived
    // (SPEC 3.6), which the whole file's SHA1 and the fingerprint then guard.
    if (expectedSha1 !== undefined && result.sourceError === null) {
      const actual = result.digest ?? (await receiver.digestWritten(end));
      if (actual !== expectedSha1) {
        throw new ApiError('chunk_checksum_mismatch', 'The chunk does not match its chunk_sha1; nothing was recorded.', { expected: expectedSha1, actual });
      }
    }
    if (result.sourceError === null && result.written === 0) throw invalidParameter('attachment[chunk]', 'must not be empty');
    return verified;
  }

  /**
   * Makes the chunk's bytes durable, then records them. In place, bytes that replace recorded
   * ones are applied only now, in this process's commit order, once the chunk may still change
   * the upload; the database decides the rest in the same write that records the range.
   */
  private async commit(state: UploadState, receiver: ChunkReceiver, record: AttachmentRecord, chunk: ChunkInput, end: number): Promise<AttachmentRecord> {
    const start = chunk.offset;
    const append = chunk.append === true;
    const prepared = await receiver.prepare(end);
    const recordIt = async () => {
      if (prepared.replaces) {
        await this.checkMayReplace(record.id, start, append);
        await receiver.applyReplacements(end);
      }
      const recorded = await this.recordRange(state, record.id, { start, end, append, ...prepared.change, seen: state.latest });
      receiver.recorded();
      return recorded;
    };
    return prepared.ordered ? state.serializeCommit(recordIt) : recordIt();
  }

  /** Before replaced bytes are applied: a chunk that would be refused must change nothing. */
  private async checkMayReplace(id: number, start: number, append: boolean): Promise<void> {
    const current = await this.repo.findById(id);
    if (!current) return; // recording will say it is gone
    if (append && contiguousPrefix(current.ranges) !== start) throw new AppendOffsetMoved(contiguousPrefix(current.ranges));
    if (current.state !== 'uploading') throw completeError();
  }

  /** Records the range: the row is changed only as planCommit allows, or the chunk is refused. */
  private async recordRange(state: UploadState, id: number, commit: RangeCommit): Promise<AttachmentRecord> {
    const now = this.clock.now();
    const outcome = await this.repo.recordRange(id, commit, this.limits.maxRanges, now, now + this.limits.idleTimeoutMs);
    if ('gone' in outcome) throw new ApiError('not_found', 'The attachment was deleted while the chunk was arriving.');
    if ('offsetMoved' in outcome) throw new AppendOffsetMoved(contiguousPrefix(outcome.offsetMoved.ranges));
    if ('tooManyRanges' in outcome) throw tooManyRanges(this.limits.maxRanges);
    if ('complete' in outcome) throw completeError();
    // The size was fixed below this chunk's end meanwhile (SPEC 3.8); nothing was recorded.
    const size = outcome.recorded.size;
    if (size !== null && commit.end > size) throw outOfRange(commit.start, commit.end - commit.start, size);
    if (outcome.bumped) state.noteChange(outcome.recorded.contentVersion, commit.start);
    state.observe(outcome.recorded);
    return outcome.recorded;
  }

  /** Once recorded: hash what is contiguous, sniff the type from the head, finalize when whole. */
  private async afterCommit(state: UploadState, local: LocalBytes | null, committed: AttachmentRecord, offset: number): Promise<AttachmentRecord> {
    // Bytes at hand (a piece's scratch file) are hashed from it, not read back from the store,
    // in the background: the reply need not wait (a completion waits for it); bytes written in
    // place are read back in the background too (from the page cache).
    if (local) await state.hashInBackground(local, MAX_LOCAL_HASHES_PENDING);
    else if (committed.size === null || committed.receivedBytes < committed.size) state.scheduleHashing();
    let current = committed;
    if (offset < SNIFF_BYTES) current = await this.sniffEarly(current);
    if (current.size !== null && current.receivedBytes === current.size) current = await this.finalize(state, current);
    return current;
  }

  /**
   * Completes an attachment whose every byte is recorded: hashes what is not hashed yet,
   * assembles pieces into one blob, and asks the database to complete it with the SHA1 of
   * the content version it was computed on. Another node may win, or change bytes meanwhile:
   * then this node sees that and answers what is true.
   */
  async finalize(state: UploadState, record: AttachmentRecord): Promise<AttachmentRecord> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < FINALIZE_ATTEMPTS; attempt += 1) {
      // A failed pass (the hash was lost, a piece was read while being replaced) starts over.
      await state.hashToEnd().catch((error: unknown) => (lastError = error));
      const done = await state.serializeCommit(() => this.tryComplete(state, record));
      if (done === 'gone') throw new ApiError('not_found', 'No such attachment.');
      if (done) {
        this.states.forget(record.id);
        return done;
      }
    }
    // Deleted (or expired) while it was being hashed: its bytes went with it.
    if (!(await this.repo.findById(record.id))) throw new ApiError('not_found', 'The attachment was deleted while it was being completed.');
    throw new Error(`attachment ${record.id} could not be hashed to completion`, { cause: lastError });
  }

  private async tryComplete(state: UploadState, record: AttachmentRecord): Promise<AttachmentRecord | 'gone' | null> {
    const current = await this.repo.findById(record.id);
    if (!current) return 'gone';
    if (current.state !== 'uploading') return current;
    state.observe(current);
    const digest = await state.digestIfWhole();
    if (digest === null) return null;
    // A piece gone meanwhile: another node completed the upload (or it was deleted); see which.
    const assembled = await this.assemble(current, digest.contentVersion).catch((error: unknown) => {
      if (isMissingBlob(error)) return null;
      throw error;
    });
    if (assembled === null) return null;
    const contentType = (await this.sniffHead(assembled ?? current.storageKey)) ?? current.contentType;
    const now = this.clock.now();
    const events = this.events;
    const outbox = events && ((scope: TransactionScope) => events.record({ type: 'attachment.completed', subjectId: record.id, occurredAt: now }, scope));
    const completed = await this.repo.markComplete(
      record.id,
      { ...digest, contentType, storageKey: assembled ?? undefined },
      now,
      now + this.limits.idleTimeoutMs,
      outbox ?? undefined,
    );
    if (!completed) {
      // Another node completed it, or bytes changed since the hash: our blob is nobody's.
      if (assembled) await this.store.deleteBlob(assembled).catch(() => undefined);
      const after = await this.repo.findById(record.id);
      if (!after) return 'gone';
      return after.state === 'uploading' ? null : after;
    }
    this.metrics.attachmentCompleted();
    // The pieces are forgotten first, then deleted, so a backup's hold sees to them (ForgottenBlobs).
    if (assembled) await this.forgotten.delete(await this.repo.deletePieces(record.id)).catch(() => undefined);
    return completed;
  }

  /**
   * Piece stores: one blob of the pieces as they stand at `version`; null when they moved on
   * (try again). In-place stores: undefined, the upload's blob is the file already.
   */
  private async assemble(record: AttachmentRecord, version: number): Promise<string | null | undefined> {
    if (this.store.kind !== 'pieces') return undefined;
    const layout = await this.repo.findLayout(record.id);
    if (!layout || layout.record.contentVersion !== version || layout.record.state !== 'uploading') return null;
    return this.store.assemble(sliceLayout(layout.pieces, 0, record.size ?? 0));
  }

  /** SPEC 3.4: the type is sniffed as soon as the file's first bytes are there, not only at completion. */
  private async sniffEarly(record: AttachmentRecord): Promise<AttachmentRecord> {
    const prefix = Math.min(contiguousPrefix(record.ranges), SNIFF_BYTES);
    if (prefix === 0) return record;
    const snapshot = await this.bytes.snapshot(record);
    if (!snapshot) return record;
    // A piece gone meanwhile (completed on another node): completion sniffs the whole file anyway.
    const head = await UploadBytes.head(snapshot.source, prefix, SNIFF_BYTES).catch((error: unknown) => {
      if (isMissingBlob(error)) return null;
      throw error;
    });
    if (head === null) return record;
    const sniffed = await this.sniff(head);
    if (sniffed === null || sniffed === record.contentType) return record;
    return (await this.repo.setContentType(record.id, sniffed)) ?? record;
  }

  private async sniffHead(storageKey: string): Promise<string | null> {
    return this.sniff(await UploadBytes.head(this.bytes.blobSource(storageKey), SNIFF_BYTES, SNIFF_BYTES));
  }

  /**
   * Fixes an unknown size. Writers past the new end in this process are waited for (and
   * then refused); the database refuses a size below a recorded byte. In place, bytes of
   * failed chunks past the end are cut off so the file is exactly `size` long.
   */
  async fixSize(record: AttachmentRecord, size: number): Promise<AttachmentRecord> {
    if (record.size !== null) {
      if (record.size !== size) throw sizeMismatch(record.size, size);
      return record;
    }
    if (size > this.limits.maxSize) throw tooLarge(this.limits.maxSize);
    // Every protocol's way to an empty attachment ends here (SPEC 3.1: a size is at least 1).
    if (size < 1) throw invalidParameter('attachment[size]', 'must be at least 1: an attachment cannot be empty');
    const state = this.states.obtain(record);
    const hold = new RegionHold();
    state.activeRequests += 1;
    await state.locks.acquire(hold, size, Math.max(size, this.limits.maxSize) + 1);
    try {
      const fixed = await this.repo.fixSize(record.id, size, this.clock.now(), this.limits.maxReservedBytes);
      if (!fixed) throw new ApiError('not_found', 'No such attachment.');
      if ('overReservation' in fixed) throw reservationLimit(this.limits.maxReservedBytes, fixed.overReservation.reservedBytes, size - record.receivedBytes);
      if (fixed.size === null) {
        const receivedUpTo = highestByte(fixed.ranges);
        throw new ApiError('size_mismatch', `attachment[size] is ${size}, but bytes up to ${receivedUpTo} have been received.`, {
          given: size,
          received_up_to: receivedUpTo,
        });
      }
      if (fixed.size !== size) throw sizeMismatch(fixed.size, size);
      state.observe(fixed);
      if (this.store.kind === 'inPlace') {
        const upload = await this.store.openUpload(record.storageKey);
        try {
          await upload.truncate(size);
          await upload.sync();
        } finally {
          await upload.close();
        }
      }
      return fixed;
    } finally {
      state.locks.release(hold);
      state.activeRequests -= 1;
    }
  }

  /**
   * A crash between recording the last range and marking the attachment complete leaves
   * it whole but "uploading"; finish the job whenever it is seen.
   */
  async completeIfWhole(record: AttachmentRecord): Promise<AttachmentRecord> {
    if (record.state !== 'uploading' || record.size === null || record.receivedBytes !== record.size) return record;
    return this.finalize(this.states.obtain(record), record);
  }
}

export function tooLarge(maxSize: number): ApiError {
  return new ApiError('attachment_too_large', `The attachment is larger than the maximum of ${maxSize} bytes.`, { max_size: maxSize });
}

export function outOfRange(offset: number, length: number | undefined, size: number): ApiError {
  return new ApiError(
    'chunk_out_of_range',
    `The chunk at offset ${offset} extends past the end of the ${size}-byte attachment; nothing was written.`,
    { chunk_offset: offset, ...(length !== undefined ? { chunk_length: length } : {}), size },
  );
}

function completeError(): ApiError {
  return new ApiError('attachment_complete', 'The attachment is complete; this chunk would change bytes already received.');
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
