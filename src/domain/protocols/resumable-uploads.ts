/**
 * What the standard resumable-upload protocols (tus 1.0, the IETF draft) need beyond
 * chunked attachments: appends checked against the offset, the client's metadata kept
 * as sent, and tus concatenation. Every upload IS an attachment: bytes, durability,
 * limits, expiry and SHA1 all come from the AttachmentService's public methods.
 */
import { contiguousPrefix } from '../attachments/ranges.js';
import { AppendOffsetMoved, type AttachmentService, type ChunkInput } from '../attachments/attachment-service.js';
import { ApiError } from '../errors.js';
import { checkDigests, DigestingSource, emptyDigest, streamDigest, type DigestAlgorithm, type ExpectedDigest } from './digests.js';
import type { AttachmentRecord } from '../attachments/ports.js';
import type { RepresentationDigests, UploadExtras, UploadExtrasRepository } from './ports.js';
import type { BlobStore } from '../storage/ports.js';

export type UploadConflictReason =
  | 'offset_mismatch'
  | 'upload_complete'
  | 'representation_digest_mismatch'
  | 'final_upload_is_read_only'
  | 'not_a_partial_upload'
  | 'partial_upload_incomplete';

/** A protocol-level refusal; each protocol maps the reason to its own status. */
export class UploadConflict extends Error {
  readonly reason: UploadConflictReason;
  /** The upload's current offset, for offset mismatches. */
  readonly offset?: number;

  constructor(
    reason: UploadConflictReason,
    message: string,
    offset?: number,
  ) {
    super(message);
    this.reason = reason;
    this.offset = offset;
  }
}

function offsetMismatch(offset: number, given: number): UploadConflict {
  return new UploadConflict('offset_mismatch', `The upload is at offset ${offset}, not ${given}.`, offset);
}

export interface NewUpload {
  size: number | null;
  filename: string;
  contentType: string | null;
  metadata: string | null;
  partial: boolean;
  digests?: RepresentationDigests | undefined;
}

export interface Append {
  /** The offset the client believes the upload is at; must equal the contiguous prefix. */
  offset: number;
  source: AsyncIterable<Buffer>;
  length?: number | undefined;
  /** Digests of this request's body (tus Upload-Checksum, IETF Content-Digest): checked before anything is recorded. */
  digests?: ExpectedDigest[] | undefined;
  /** Fixes a deferred length (tus Upload-Length on PATCH, IETF Upload-Length). */
  size?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Gives each piece of `source` back once written (ChunkInput.releasePiece). */
  releasePiece?: ((piece: Buffer) => void) | undefined;
  /** Refuse the append, even an empty one, once the upload is complete (IETF: it MUST NOT change). */
  refuseIfComplete?: boolean | undefined;
}

export interface Upload {
  record: AttachmentRecord;
  extras: UploadExtras;
}

const NO_EXTRAS: UploadExtras = { metadata: null, concat: null, digests: null };

/** The offset a sequential client continues from: the bytes received contiguously from 0. */
export function uploadOffset(record: AttachmentRecord): number {
  return contiguousPrefix(record.ranges);
}

export class ResumableUploads {
  private readonly attachments: AttachmentService;
  private readonly extras: UploadExtrasRepository;
  private readonly store: BlobStore;

  constructor(
    attachments: AttachmentService,
    extras: UploadExtrasRepository,
    store: BlobStore,
  ) {
    this.attachments = attachments;
    this.extras = extras;
    this.store = store;
  }

  get maxSize(): number {
    return this.attachments.limits.maxSize;
  }

  get idleTimeoutMs(): number {
    return this.attachments.limits.idleTimeoutMs;
  }

  async create(userId: number, input: NewUpload): Promise<Upload> {
    const record = await this.attachments.create(userId, { size: input.size, filename: input.filename, contentType: input.contentType });
    const digests = input.digests && (input.digests.expected.length > 0 || input.digests.wanted.length > 0) ? input.digests : null;
    const extras: UploadExtras = { metadata: input.metadata, concat: input.partial ? { kind: 'partial' } : null, digests };
    if (extras.metadata !== null || extras.concat !== null || extras.digests !== null) await this.extras.save(record.id, extras);
    return { record, extras };
  }

  async get(userId: number, id: number): Promise<Upload> {
    const record = await this.attachments.status(userId, id);
    return { record, extras: (await this.extras.find(id)) ?? NO_EXTRAS };
  }

  /** Appends at the current offset; a cut-off body keeps what was written (and answers with the error). */
  async append(userId: number, id: number, append: Append): Promise<Upload> {
    const { record, extras } = await this.get(userId, id);
    if (extras.concat?.kind === 'final') throw new UploadConflict('final_upload_is_read_only', 'A final upload cannot be changed.');
    if (append.refuseIfComplete && record.state !== 'uploading') throw new UploadConflict('upload_complete', 'The upload is complete; nothing can be appended to it.');
    const offset = uploadOffset(record);
    if (append.offset !== offset) throw offsetMismatch(offset, append.offset);
    // A body of unknown length (chunked) is judged by what arrives: one that ends before a byte is empty.
    const source = append.length === undefined ? await unlessEmpty(append.source) : append.source;
    const expected = append.digests ?? [];
    const digesting = expected.length > 0 && source !== null ? new DigestingSource(source, expected.map((digest) => digest.algorithm)) : null;
    const chunk: ChunkInput = {
      offset,
      append: true,
      source: digesting ?? source ?? append.source,
      length: append.length,
      size: append.size,
      signal: append.signal,
      releasePiece: append.releasePiece,
      // Checked once the last byte has passed, before the range is recorded.
      trailing: digesting ? async () => (checkDigests(expected, (algorithm) => digesting.digest(algorithm)), {}) : undefined,
    };
    // An empty body only fixes the length, or changes nothing.
    if (append.length === 0 || source === null) {
      checkDigests(expected, emptyDigest);
      const updated = append.size !== undefined ? await this.attachments.setSize(userId, id, append.size) : record;
      return { record: updated, extras };
    }
    // The check above is a quick answer; the one that counts is made where the range is recorded.
    const updated = await this.attachments.writeChunk(userId, id, chunk).catch((error: unknown) => {
      if (error instanceof AppendOffsetMoved) throw offsetMismatch(error.offset, append.offset);
      throw error;
    });
    return { record: updated, extras };
  }

  /** Keeps digests of the whole representation that a client sent before the upload completed. */
  async rememberDigests(id: number, digests: RepresentationDigests): Promise<void> {
    if (digests.expected.length > 0 || digests.wanted.length > 0) await this.extras.saveDigests(id, digests);
  }

  /**
   * A completed upload against the digests of its whole representation that the client sent
   * (now or earlier): a mismatch deletes the upload. Resolves the digests it asked to receive.
   * SHA-1 is the one kept for every attachment; another is computed by reading the file once.
   */
  async checkRepresentation(userId: number, upload: Upload, given: RepresentationDigests): Promise<Map<DigestAlgorithm, Buffer>> {
    const { record } = upload;
    const stored = upload.extras.digests;
    const expected = [...(stored?.expected ?? []), ...given.expected];
    const wanted = new Set([...(stored?.wanted ?? []), ...given.wanted]);
    const digests = new Map<DigestAlgorithm, Buffer>();
    if (record.state === 'uploading' || record.sha1 === null || record.size === null) return digests;
    const size = record.size;
    for (const algorithm of new Set([...expected.map((digest) => digest.algorithm), ...wanted])) {
      digests.set(
        algorithm,
        algorithm === 'sha1' ? Buffer.from(record.sha1, 'hex') : await streamDigest(this.store.openRead(record.storageKey, { start: 0, end: size }) as AsyncIterable<Buffer>, algorithm),
      );
    }
    const wrong = expected.find((digest) => !digest.value.equals(digests.get(digest.algorithm)!));
    if (wrong) {
      await this.attachments.delete(userId, record.id).catch(() => undefined);
      throw new UploadConflict(
        'representation_digest_mismatch',
        `The uploaded representation does not match its ${wrong.algorithm} Repr-Digest; the upload was discarded.`,
      );
    }
    return new Map([...digests].filter(([algorithm]) => wanted.has(algorithm)));
  }

  /** Fixes the length once the client knows it (IETF Upload-Complete, tus deferred length). */
  async setLength(userId: number, id: number, size: number): Promise<Upload> {
    const record = await this.attachments.setSize(userId, id, size);
    return { record, extras: (await this.extras.find(id)) ?? NO_EXTRAS };
  }

  async terminate(userId: number, id: number): Promise<void> {
    await this.attachments.delete(userId, id);
  }

  /**
   * tus concatenation: a new upload whose bytes are the complete partial uploads' bytes
   * in order. An object store joins them inside itself; on the local disk they go through
   * the same durable write path as any chunk. Either way the final is hashed as any upload.
   */
  async concatenate(userId: number, partIds: number[], input: { filename: string; contentType: string | null; metadata: string | null }): Promise<Upload> {
    if (new Set(partIds).size !== partIds.length) {
      throw new ApiError('invalid_parameter', 'A partial upload may appear only once in a final upload.', { parameter: 'Upload-Concat' });
    }
    const parts: AttachmentRecord[] = [];
    for (const partId of partIds) {
      const { record, extras } = await this.get(userId, partId);
      if (extras.concat?.kind !== 'partial') {
        // Its extras go with it: one deleted between the two readings is gone, not another kind of upload.
        throw (await this.deletedPart(userId, [record])) ?? new UploadConflict('not_a_partial_upload', `Upload ${partId} is not a partial upload.`);
      }
      if (record.state === 'uploading' || record.size === null) {
        throw new UploadConflict('partial_upload_incomplete', `Partial upload ${partId} is not complete.`);
      }
      parts.push(record);
    }
    const total = parts.reduce((sum, part) => sum + (part.size ?? 0), 0);
    if (total === 0) throw new ApiError('invalid_parameter', 'A final upload needs at least one byte.', { parameter: 'Upload-Concat' });
    // Created with its whole size before any byte is copied, so the user's limits (largest attachment,
    // open attachments, bytes declared but not received) refuse it up front; the partials stop
    // counting against them as the final starts (SPEC 3.6).
    let record = await this.attachments.create(userId, { size: total, filename: input.filename, contentType: input.contentType, consumes: partIds });
    const extras: UploadExtras = { metadata: input.metadata, concat: { kind: 'final', parts: partIds }, digests: null };
    try {
      await this.extras.save(record.id, extras);
      record = (await this.adoptParts(userId, record, parts)) ?? (await this.copyParts(userId, record, parts));
    } catch (error) {
      await this.attachments.delete(userId, record.id).catch(() => undefined);
      throw (await this.deletedPart(userId, parts)) ?? error;
    }
    // Complete, the final has its bytes: the partials go. One left by a failure here expires.
    await this.attachments.deleteConsumed(record).catch(() => undefined);
    return { record, extras };
  }

  /** The partials' bytes sent through the write path, one chunk each, in order. */
  private async copyParts(userId: number, final: AttachmentRecord, parts: AttachmentRecord[]): Promise<AttachmentRecord> {
    let record = final;
    let offset = 0;
    for (const part of parts) {
      const size = part.size ?? 0;
      // Opened when the engine starts reading: a stream opened earlier fails (a part deleted meanwhile) with nobody listening.
      const store = this.store;
      const source = (async function* () {
        yield* store.openRead(part.storageKey, { start: 0, end: size }) as AsyncIterable<Buffer>;
      })();
      record = await this.attachments.writeChunk(userId, record.id, { offset, source, length: size });
      offset += size;
    }
    return record;
  }

  /**
   * Object stores: the store joins the partials' blobs into one new blob inside itself (no byte
   * passes through this server, and nothing is shared: the partials keep their own blobs until
   * they are deleted), which becomes the final's bytes. Null where uploads are written in place:
   * the bytes are then copied through the write path.
   */
  private async adoptParts(userId: number, final: AttachmentRecord, parts: AttachmentRecord[]): Promise<AttachmentRecord | null> {
    const store = this.store;
    if (store.kind !== 'pieces') return null;
    let offset = 0;
    const slices = parts.map((part) => {
      const size = part.size ?? 0;
      offset += size;
      return { key: part.storageKey, pieceOffset: 0, start: offset - size, end: offset };
    });
    const joined = await store.assemble(slices);
    try {
      const adopted = await this.attachments.adoptPiece(userId, final.id, 0, offset, joined);
      return adopted === false ? null : adopted;
    } catch (error) {
      // Not recorded (the final went meanwhile): the blob is nobody's. Recorded, it goes with the final.
      if (error instanceof ApiError && error.errorName === 'not_found') await this.store.deleteBlob(joined).catch(() => undefined);
      throw error;
    }
  }

  /** A partial upload deleted (or expired) while a final upload was being made from it: the reason it failed. */
  private async deletedPart(userId: number, parts: AttachmentRecord[]): Promise<ApiError | null> {
    for (const part of parts) {
      const gone = await this.attachments.getOwned(userId, part.id).then(
        () => false,
        (error: unknown) => error instanceof ApiError && error.errorName === 'not_found',
      );
      if (gone) return new ApiError('not_found', `Partial upload ${part.id} was deleted while the final upload was being made from it.`);
    }
    return null;
  }
}

/**
 * The source, unless it ends without a byte (then null). The first piece is read here and
 * handed on first, so nothing is held beyond what has arrived.
 */
async function unlessEmpty(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer> | null> {
  const iterator = source[Symbol.asyncIterator]();
  let first = await iterator.next();
  while (!first.done && first.value.length === 0) first = await iterator.next();
  if (first.done) return null;
  const head = first.value;
  return (async function* () {
    try {
      yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  })();
}
