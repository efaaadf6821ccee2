/**
 * Reads what a server stored, from outside it (its processes may be dead): the database and
 * the blob store opened as the server opens them, bytes read through the ports only.
 */
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SqlAttachmentRepository } from '../../src/db/repositories/attachments-repository.js';
import { UploadBytes } from '../../src/domain/attachments/upload-bytes.js';
import type { BlobStore } from '../../src/domain/storage/ports.js';
import { openBlobStore } from '../../src/storage/open-store.js';

export class StoredUploads {
  private readonly database: Database;
  readonly store: BlobStore;
  private readonly bytes: UploadBytes;
  private readonly repo: SqlAttachmentRepository;

  private constructor(
    database: Database,
    store: BlobStore,
    bytes: UploadBytes,
    repo: SqlAttachmentRepository,
  ) {
    this.database = database;
    this.store = store;
    this.bytes = bytes;
    this.repo = repo;
  }

  /** `env`: the server's settings (DATA_DIR, DATABASE_URL, STORAGE_URL, ...). */
  static async open(env: Record<string, string>): Promise<StoredUploads> {
    const config = loadConfig([], env);
    const database = await openDatabase({ url: config.databaseUrl, durable: false });
    // A scratch folder of its own: opening one empties it, and the server may be using its own.
    const store = await openBlobStore(config, path.join(config.dataDir, 'scratch-reader'));
    const repo = new SqlAttachmentRepository(database);
    return new StoredUploads(database, store, new UploadBytes(repo, store), repo);
  }

  /** Bytes [start, end) of an attachment as they stand (in place, through its pieces, or its file). */
  async read(attachmentId: number, start: number, end: number): Promise<Buffer> {
    const record = await this.repo.findById(attachmentId);
    if (!record) throw new Error(`attachment ${attachmentId} is gone`);
    const snapshot = await this.bytes.snapshot(record);
    if (!snapshot) throw new Error(`attachment ${attachmentId} is gone`);
    const parts: Buffer[] = [];
    for await (const part of snapshot.source.read(start, end)) parts.push(part);
    return Buffer.concat(parts);
  }

  /** Every stored blob's key, sorted. */
  async blobKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const blob of this.store.listBlobs()) keys.push(blob.key);
    return keys.sort();
  }

  /**
   * The keys records name that must exist as blobs: every attachment's file where uploads are
   * written in place; with pieces, the pieces and the files of completed attachments.
   */
  async namedKeys(): Promise<string[]> {
    const { db } = this.database;
    const attachments = await db.selectFrom('attachments').select(['storage_key', 'state']).execute();
    const pieces = await db.selectFrom('attachment_pieces').select('storage_key').execute();
    const media = await db.selectFrom('media_files').select('storage_key').execute();
    const files = attachments.filter((a) => this.store.kind === 'inPlace' || a.state !== 'uploading').map((a) => a.storage_key);
    return [...new Set([...files, ...pieces.map((p) => p.storage_key), ...media.map((m) => m.storage_key)])].sort();
  }

  async close(): Promise<void> {
    await this.store.close();
    await this.database.close();
  }
}
