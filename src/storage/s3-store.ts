/**
 * Blob storage in an S3-compatible object store (AWS S3, Ceph's RADOS Gateway, MinIO, ...).
 * Objects cannot be written at offsets, so uploads are kept as pieces: every accepted chunk
 * is an object of its own, and the file is assembled at completion by a multipart upload
 * that copies large pieces inside the store (UploadPartCopy) and sends only small ones
 * through this process. Scratch files (bytes whose fate is not decided yet) stay on this
 * node's disk; nothing that matters does.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { PieceSlice, PieceStore, PieceStream, ScratchFile } from '../domain/storage/ports.js';
import { LocalScratchFile, ScratchDirectory } from './local-files.js';
import { classified, silenceGuard, withDeadline } from './s3-deadlines.js';
import { StreamedPut } from './streamed-put.js';

export interface S3StoreOptions {
  bucket: string;
  /** Keys start with this (no leading or trailing slash), or nothing. */
  prefix: string;
  /** e.g. http://127.0.0.1:7480; undefined for AWS. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Where this node keeps scratch files. */
  scratchDir: string;
  /** Explicit credentials (tests); otherwise the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /**
   * S3_TIMEOUT: how long a connection, an answer to a call that moves no bulk data (retries
   * included) and silence in the middle of a transfer may take before the call fails with
   * STORAGE_UNAVAILABLE (./s3-deadlines.ts).
   */
  timeoutMs: number;
}

/** Keys one DeleteObjects request may name (S3's limit). */
const DELETE_BATCH = 1000;
/** S3's smallest part, except for the last one. */
const MIN_PART = 5 * 1024 * 1024;
/** Bytes of small slices gathered into one uploaded part (bounded memory per assembly). */
const GATHERED_PART = 8 * 1024 * 1024;
const KEY_PATTERN = /^[0-9a-f-]{36}$/;
const QUIET = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
/** Epoch records kept below the newest (older ones say nothing the newest does not). */
const KEPT_EPOCH_RECORDS = 16;
/** Parts of one assembly sent at once (copies inside the store, or gathered small slices). */
const PART_CONCURRENCY = 6;

export class S3Store implements PieceStore {
  private readonly options: S3StoreOptions;
  private readonly scratch: ScratchDirectory;

  readonly kind = 'pieces';
  readonly localPaths = false;
  /** Calls and transfers from files: a connection that goes silent for timeoutMs fails the attempt. */
  private readonly client: S3Client;
  /**
   * Downloads: no socket time limit, since a slow reader pauses them; silenceGuard counts only
   * the store's silence.
   */
  private readonly readClient: S3Client;
  /** For bodies streamed as they arrive, which cannot be sent again: no retries; StreamedPut times them. */
  private readonly streamingClient: S3Client;

  private constructor(
    options: S3StoreOptions,
    scratch: ScratchDirectory,
  ) {
    this.options = options;
    this.scratch = scratch;
    const settings = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // The SDK's newer default checksums (CRC32 trailers on every request) are refused by many
      // S3-compatible servers; send and check them only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 5,
      // No "Expect: 100-continue" round trip before every piece: bodies are ours and small.
      expectContinueHeader: false,
      // The SDK would print a warning of its own (to the console) for each failed streamed
      // body; the failure itself reaches the caller, which reports it.
      logger: QUIET,
    } as const;
    const connectionTimeout = options.timeoutMs;
    this.client = new S3Client({ ...settings, requestHandler: { connectionTimeout, socketTimeout: options.timeoutMs } });
    this.readClient = new S3Client({ ...settings, requestHandler: { connectionTimeout } });
    this.streamingClient = new S3Client({ ...settings, maxAttempts: 1, requestHandler: { connectionTimeout } });
  }

  /** A call that moves no bulk data: answered within timeoutMs, retries included, or STORAGE_UNAVAILABLE. */
  private quick<T>(what: string, call: (client: S3Client, abortSignal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
    return withDeadline(this.options.timeoutMs, what, (abortSignal) => call(this.client, abortSignal), outer);
  }

  /** A transfer (an object or part sent or copied): bounded by silence, not by length. */
  private async transfer<T>(what: string, call: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await call(this.client);
    } catch (error) {
      throw classified(what, error);
    }
  }

  /** Opens the store, creating the bucket when it is missing and the credentials allow it. */
  static async open(options: S3StoreOptions): Promise<S3Store> {
    const store = new S3Store(options, await ScratchDirectory.open(options.scratchDir));
    try {
      await store.quick('HeadBucket', (client, abortSignal) => client.send(new HeadBucketCommand({ Bucket: options.bucket }), { abortSignal }));
    } catch (error) {
      if (!isMissing(error)) throw error;
      await store.quick('CreateBucket', (client, abortSignal) => client.send(new CreateBucketCommand({ Bucket: options.bucket }), { abortSignal })).catch((created: unknown) => {
        // Another node made it meanwhile.
        if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(String((created as Error).name))) throw created;
      });
    }
    return store;
  }

  private objectKey(key: string): string {
    // Keys are ours (UUIDs), but never let one name an object outside the prefix.
    if (!KEY_PATTERN.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  createScratch(): Promise<ScratchFile> {
    return this.scratch.create();
  }

  async adoptScratch(scratch: ScratchFile): Promise<string> {
    if (!(scratch instanceof LocalScratchFile)) throw new Error('not a scratch file of this store');
    const { size } = await fs.stat(scratch.filePath);
    try {
      return await this.putPiece(scratch, size);
    } finally {
      await scratch.discard();
    }
  }

  async putPiece(scratch: ScratchFile, length: number): Promise<string> {
    if (!(scratch instanceof LocalScratchFile)) throw new Error('not a scratch file of this store');
    const key = randomUUID();
    // A file stream of known length goes to the store as it is read: never whole in memory.
    const body = length === 0 ? Buffer.alloc(0) : createReadStream(scratch.filePath, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 });
    await this.transfer('PutObject', (client) => client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key), Body: body, ContentLength: length })));
    return key;
  }

  streamPiece(length: number): PieceStream {
    const key = randomUUID();
    return new StreamedPut(
      key,
      (body, abortSignal) =>
        this.streamingClient.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key), Body: body, ContentLength: length }), { abortSignal }),
      this.options.timeoutMs,
    );
  }

  async assemble(slices: PieceSlice[]): Promise<string> {
    const key = randomUUID();
    const Bucket = this.options.bucket;
    const Key = this.objectKey(key);
    if (slices.length === 0) {
      await this.quick('PutObject', (client, abortSignal) => client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(0), ContentLength: 0 }), { abortSignal }));
      return key;
    }
    const { UploadId } = await this.quick('CreateMultipartUpload', (client, abortSignal) => client.send(new CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal }));
    try {
      const parts = await this.uploadParts(Key, UploadId!, slices);
      await this.transfer('CompleteMultipartUpload', (client) => client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (error) {
      await this.quick('AbortMultipartUpload', (client, abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal })).catch(() => undefined);
      throw asMissing(error);
    }
    return key;
  }

  /**
   * Large slices become parts copied inside the store; runs of small ones are read and sent as
   * one part (every part but the last must be at least 5 MiB). Parts are numbered in order as
   * they are planned and sent PART_CONCURRENCY at a time, which bounds the gathered bytes held.
   */
  private async uploadParts(Key: string, UploadId: string, slices: PieceSlice[]): Promise<CompletedPart[]> {
    const Bucket = this.options.bucket;
    const parts: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown = null;
    const submit = async (send: (PartNumber: number) => Promise<string | undefined>) => {
      while (inFlight.size >= PART_CONCURRENCY) await Promise.race(inFlight);
      if (failure) throw failure;
      const PartNumber = parts.length + 1;
      const part: CompletedPart = { PartNumber };
      parts.push(part);
      const sending = send(PartNumber).then(
        (ETag) => void (part.ETag = ETag),
        (error: unknown) => void (failure ??= error),
      );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
    };
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    const sendGathered = async () => {
      if (gatheredBytes === 0) return;
      const body = Buffer.concat(gathered, gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
      await submit(async (PartNumber) => (await this.transfer('UploadPart', (client) => client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body, ContentLength: body.length })))).ETag);
    };
    for (let i = 0; i < slices.length; i += 1) {
      const slice = slices[i]!;
      const length = slice.end - slice.start;
      const last = i === slices.length - 1;
      if (length >= MIN_PART && gatheredBytes === 0) {
        const range = `bytes=${slice.pieceOffset}-${slice.pieceOffset + length - 1}`;
        const CopySource = this.copySource(slice.key);
        await submit(
          async (PartNumber) =>
            (await this.transfer('UploadPartCopy', (client) => client.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber, CopySource, CopySourceRange: range })))).CopyPartResult?.ETag,
        );
        continue;
      }
      // Read the slice (in steps, so a long one never sits in memory whole) into gathered parts.
      for await (const chunk of this.openRead(slice.key, { start: slice.pieceOffset, end: slice.pieceOffset + length }) as AsyncIterable<Buffer>) {
        gathered.push(chunk);
        gatheredBytes += chunk.length;
        if (gatheredBytes >= GATHERED_PART) await sendGathered();
      }
      // A small run must not end right before a copied part unless it is big enough to stand alone.
      const next = slices[i + 1];
      if (last || (gatheredBytes >= MIN_PART && next !== undefined && next.end - next.start >= MIN_PART)) await sendGathered();
    }
    await sendGathered();
    await Promise.all(inFlight);
    if (failure) throw failure;
    return parts;
  }

  private copySource(key: string): string {
    return `${this.options.bucket}/${this.objectKey(key)}`;
  }

  /**
   * Like a file stream, the stream is `pending` until the store has answered, then emits
   * `ready`, so a reader can tell a missing or unreachable object before it answers anything.
   */
  openRead(key: string, range?: { start: number; end: number }): NodeJS.ReadableStream {
    if (range && range.end <= range.start) return Readable.from([]);
    const out = Object.assign(silenceGuard(this.options.timeoutMs, 'GetObject'), { pending: true });
    const request = new GetObjectCommand({
      Bucket: this.options.bucket,
      Key: this.objectKey(key),
      ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
    });
    withDeadline(this.options.timeoutMs, 'GetObject', (abortSignal) => this.readClient.send(request, { abortSignal }))
      .then(({ Body }) => {
        out.pending = false;
        out.emit('ready');
        return pipeline(Body as Readable, out);
      })
      .catch((error: unknown) => out.destroy(asMissing(error)));
    return out;
  }

  async withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T> {
    const file = path.join(this.scratch.dir, `${randomUUID()}.local`);
    try {
      await pipeline(this.openRead(key) as Readable, (await fs.open(file, 'wx', 0o600)).createWriteStream());
      return await fn(file);
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  localPath(): null {
    return null;
  }

  async deleteBlob(key: string): Promise<void> {
    await this.quick('DeleteObject', (client, abortSignal) => client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }), { abortSignal }));
  }

  /** DeleteObjects, up to 1,000 keys a request (S3's limit): one round trip instead of a thousand. */
  async deleteBlobs(keys: string[]): Promise<void> {
    for (let at = 0; at < keys.length; at += DELETE_BATCH) {
      const objects = keys.slice(at, at + DELETE_BATCH).map((key) => ({ Key: this.objectKey(key) }));
      const result = await this.quick('DeleteObjects', (client, abortSignal) =>
        client.send(new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: objects, Quiet: true } }), { abortSignal }),
      );
      const failed = (result.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new Error(`S3 DeleteObjects: ${failed.length} not deleted, e.g. ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
    }
  }

  async freeBytes(): Promise<number | null> {
    return null;
  }

  async check(signal: AbortSignal): Promise<void> {
    await this.quick('HeadBucket', (client, abortSignal) => client.send(new HeadBucketCommand({ Bucket: this.options.bucket }), { abortSignal }), signal);
  }

  async *listBlobs(): AsyncIterable<{ key: string; modifiedAt: number }> {
    const prefix = this.options.prefix ? `${this.options.prefix}/` : '';
    let ContinuationToken: string | undefined;
    do {
      const page = await this.quick('ListObjectsV2', (client, abortSignal) =>
        client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken }), { abortSignal }),
      );
      for (const object of page.Contents ?? []) {
        const key = (object.Key ?? '').slice(prefix.length);
        if (KEY_PATTERN.test(key)) yield { key, modifiedAt: object.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async sweepAbandoned(before: number): Promise<number> {
    const Bucket = this.options.bucket;
    const Prefix = this.options.prefix ? `${this.options.prefix}/` : '';
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await this.quick('ListMultipartUploads', (client, abortSignal) =>
        client.send(new ListMultipartUploadsCommand({ Bucket, Prefix, KeyMarker, UploadIdMarker }), { abortSignal }),
      );
      for (const upload of page.Uploads ?? []) {
        if ((upload.Initiated?.getTime() ?? 0) >= before) continue;
        await this.quick('AbortMultipartUpload', (client, abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket, Key: upload.Key, UploadId: upload.UploadId }), { abortSignal })).catch(
          () => undefined,
        );
        aborted += 1;
      }
      KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      UploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (KeyMarker);
    return aborted;
  }

  async importBlob(key: string, sourcePath: string): Promise<void> {
    const { size } = await fs.stat(sourcePath);
    const body = size === 0 ? Buffer.alloc(0) : createReadStream(sourcePath, { highWaterMark: 1024 * 1024 });
    await this.transfer('PutObject', (client) => client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key), Body: body, ContentLength: size })));
  }

  /** Epoch records are empty objects `epochs/<epoch, 16 digits>` under the prefix (never a blob key). */
  private epochPrefix(): string {
    return this.options.prefix ? `${this.options.prefix}/epochs/` : 'epochs/';
  }

  async latestEpoch(): Promise<number | null> {
    const Prefix = this.epochPrefix();
    let latest: number | null = null;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.quick('ListObjectsV2', (client, abortSignal) =>
        client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix, ContinuationToken }), { abortSignal }),
      );
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(Prefix.length);
        if (/^[0-9]+$/.test(name)) latest = Math.max(latest ?? 0, Number(name));
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return latest;
  }

  async recordEpoch(epoch: number): Promise<void> {
    const Prefix = this.epochPrefix();
    const Bucket = this.options.bucket;
    await this.quick('PutObject', (client, abortSignal) =>
      client.send(new PutObjectCommand({ Bucket, Key: `${Prefix}${String(epoch).padStart(16, '0')}`, Body: Buffer.alloc(0), ContentLength: 0 }), { abortSignal }),
    );
    // Older records: the listing is short, since every sweep prunes it.
    const page = await this.quick('ListObjectsV2', (client, abortSignal) => client.send(new ListObjectsV2Command({ Bucket, Prefix }), { abortSignal }));
    for (const object of page.Contents ?? []) {
      const name = (object.Key ?? '').slice(Prefix.length);
      if (/^[0-9]+$/.test(name) && Number(name) < epoch - KEPT_EPOCH_RECORDS) {
        await this.quick('DeleteObject', (client, abortSignal) => client.send(new DeleteObjectCommand({ Bucket, Key: object.Key }), { abortSignal }));
      }
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.readClient.destroy();
    this.streamingClient.destroy();
  }
}

function isMissing(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchBucket';
}

/** The port's way to say a blob is not there (code 'ENOENT', as on a disk); other errors as they are. */
function asMissing(error: unknown): Error {
  const name = (error as { name?: unknown } | null)?.name;
  if (name !== 'NoSuchKey' && name !== 'NotFound') return error as Error;
  return Object.assign(new Error(`no such blob (${String(name)})`, { cause: error }), { code: 'ENOENT' });
}
