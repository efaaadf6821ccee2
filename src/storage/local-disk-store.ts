/**
 * Blob storage on the local file system, under DATA_DIR/blobs. An upload is a sparse
 * file of its final size, written in place at its offsets, and stays where it is when
 * it becomes a clip's or message's file.
 */
import { randomUUID } from 'node:crypto';
import { constants, createReadStream, promises as fs, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { InPlaceStore, ScratchFile, UploadHandle } from '../domain/storage/ports.js';
import { FileUploadHandle, LocalScratchFile, ScratchDirectory, syncDirectory, syncFile } from './local-files.js';

/** Epoch records kept below the newest (older ones say nothing the newest does not). */
const KEPT_EPOCH_RECORDS = 16;

/**
 * Upload descriptors kept open: a quarter of the files this process may open (the rest are
 * for connections, the database and scratch files), between 64 and 4,096. With fewer than
 * the uploads under way, every chunk opens and closes its file (two trips to the thread pool)
 * and the cache scans its leased entries to find idle ones.
 */
export function descriptorCapacity(openFileLimit: number | null): number {
  if (openFileLimit === null) return 64;
  return Math.min(4096, Math.max(64, Math.floor(openFileLimit / 4)));
}

/** The soft limit of open files (Node raises it to the hard one at start), or null where unknown. */
function openFileLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return null;
    return line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
  } catch {
    return null; // not Linux
  }
}

export interface LocalDiskOptions {
  root: string;
  /** fdatasync before acknowledging; off only for benchmarks. */
  durable: boolean;
  /** Scratch files; on the same file system as root, so adopting one is a rename. Default root/scratch. */
  scratchDir?: string | undefined;
}

/**
 * How long a descriptor nobody uses stays open: long enough to span the pause between two
 * chunks on a slow link, short enough that a file deleted by another process (an erasure from
 * the admin command) does not keep its disk space for long.
 */
const DESCRIPTOR_IDLE_MS = 30_000;

interface CachedDescriptor {
  file: Promise<FileHandle>;
  leases: number;
  retired: boolean;
  /** When its last lease ended (ms); null while leased. */
  idleSince: number | null;
}

/**
 * Open descriptors of recently used blobs, shared by every request on that blob: a chunk,
 * the hasher and the sniffer would otherwise each open and close the file. Positional
 * reads and writes need no per-user state. Idle descriptors beyond `capacity` are closed,
 * least recently used first, and any idle for `idleMs`; a deleted blob's descriptor closes
 * with its last lease.
 */
export class DescriptorCache {
  private readonly capacity: number;
  private readonly idleMs: number;

  private readonly entries = new Map<string, CachedDescriptor>();
  private sweep: NodeJS.Timeout | null = null;

  constructor(capacity: number, idleMs = DESCRIPTOR_IDLE_MS) {
    this.capacity = capacity;
    this.idleMs = idleMs;
  }

  async lease(filePath: string): Promise<{ file: FileHandle; release: () => Promise<void> }> {
    let entry = this.entries.get(filePath);
    if (entry) {
      this.entries.delete(filePath); // re-inserted below: most recently used
    } else {
      const opened: CachedDescriptor = { file: fs.open(filePath, 'r+'), leases: 0, retired: false, idleSince: null };
      opened.file.catch(() => this.entries.get(filePath) === opened && this.entries.delete(filePath));
      entry = opened;
    }
    this.entries.set(filePath, entry);
    entry.leases += 1;
    entry.idleSince = null;
    this.sweep ??= setInterval(() => void this.closeStale(), Math.max(1, this.idleMs / 3)).unref();
    const current = entry;
    let file: FileHandle;
    try {
      file = await current.file;
    } catch (error) {
      current.leases -= 1;
      throw error;
    }
    if (this.entries.size > this.capacity) await this.closeIdle();
    let released = false;
    return {
      file,
      release: async () => {
        if (released) return;
        released = true;
        current.leases -= 1;
        if (current.leases === 0) current.idleSince = Date.now();
        if (current.retired && current.leases === 0) await file.close();
        else if (this.entries.size > this.capacity) await this.closeIdle();
      },
    };
  }

  /** The blob is going away: close its descriptor once nobody uses it. */
  async retire(filePath: string): Promise<void> {
    const entry = this.entries.get(filePath);
    if (!entry) return;
    this.entries.delete(filePath);
    entry.retired = true;
    if (entry.leases === 0) await (await entry.file.catch(() => null))?.close();
  }

  async closeAll(): Promise<void> {
    this.stopSweep();
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) await (await entry.file.catch(() => null))?.close().catch(() => undefined);
  }

  /** Called only when over capacity. */
  private async closeIdle(): Promise<void> {
    for (const [filePath, entry] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      if (entry.leases > 0) continue;
      await this.evict(filePath, entry);
    }
  }

  /** Closes the descriptors idle for idleMs; the sweep stops once none is left. */
  private async closeStale(): Promise<void> {
    const before = Date.now() - this.idleMs;
    for (const [filePath, entry] of this.entries) {
      if (entry.leases > 0 || entry.idleSince === null || entry.idleSince > before) continue;
      await this.evict(filePath, entry).catch(() => undefined);
    }
    if (this.entries.size === 0) this.stopSweep();
  }

  /** Forgets an unleased descriptor and closes it. */
  private async evict(filePath: string, entry: CachedDescriptor): Promise<void> {
    this.entries.delete(filePath);
    await (await entry.file.catch(() => null))?.close();
  }

  private stopSweep(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }
}

export class LocalDiskStore implements InPlaceStore {
  private readonly options: LocalDiskOptions;
  private readonly scratch: ScratchDirectory;

  readonly kind = 'inPlace';
  readonly localPaths = true;
  private readonly uploadsDir: string;
  private readonly epochsDir: string;
  private readonly descriptors = new DescriptorCache(descriptorCapacity(openFileLimit()));

  private constructor(
    options: LocalDiskOptions,
    scratch: ScratchDirectory,
  ) {
    this.options = options;
    this.scratch = scratch;
    this.uploadsDir = path.join(options.root, 'blobs');
    this.epochsDir = path.join(options.root, 'epochs');
  }

  static async open(options: LocalDiskOptions): Promise<LocalDiskStore> {
    await fs.mkdir(path.join(options.root, 'blobs'), { recursive: true });
    // Beside the blobs, so that adopting a scratch file is a rename on the same file system.
    return new LocalDiskStore(options, await ScratchDirectory.open(options.scratchDir ?? path.join(options.root, 'scratch')));
  }

  private uploadPath(key: string): string {
    // Keys are ours (UUIDs), but never let one name a path outside the folder.
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    // Joined as text: the key is one plain name, and path.join's normalising shows on every chunk.
    return `${this.uploadsDir}${path.sep}${key}`;
  }

  async createUpload(size: number): Promise<string> {
    const key = randomUUID();
    const file = await fs.open(this.uploadPath(key), constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o600);
    try {
      await file.truncate(size);
      if (this.options.durable) await file.sync();
    } finally {
      await file.close();
    }
    if (this.options.durable) await syncDirectory(this.uploadsDir);
    return key;
  }

  async openUpload(key: string): Promise<UploadHandle> {
    const { file, release } = await this.descriptors.lease(this.uploadPath(key));
    return new FileUploadHandle(file, this.options.durable, release);
  }

  async deleteBlob(key: string): Promise<void> {
    const filePath = this.uploadPath(key);
    await this.descriptors.retire(filePath);
    await fs.rm(filePath, { force: true });
  }

  async deleteBlobs(keys: string[]): Promise<void> {
    for (const key of keys) await this.deleteBlob(key);
  }

  createScratch(): Promise<ScratchFile> {
    return this.scratch.create();
  }

  async adoptScratch(scratch: ScratchFile): Promise<string> {
    if (!(scratch instanceof LocalScratchFile)) throw new Error('not a scratch file of this store');
    const key = randomUUID();
    if (this.options.durable) await scratch.flush();
    await scratch.close();
    // Same file system: a rename, not a copy.
    await fs.rename(scratch.filePath, this.uploadPath(key));
    if (this.options.durable) await syncDirectory(this.uploadsDir);
    return key;
  }

  openRead(key: string, range?: { start: number; end: number }): NodeJS.ReadableStream {
    if (range && range.end <= range.start) return Readable.from([]);
    return createReadStream(this.uploadPath(key), range ? { start: range.start, end: range.end - 1 } : {});
  }

  async withLocalFile<T>(key: string, fn: (path: string) => Promise<T>): Promise<T> {
    return fn(this.uploadPath(key));
  }

  localPath(key: string): string {
    return this.uploadPath(key);
  }

  async close(): Promise<void> {
    await this.descriptors.closeAll();
  }

  async *listBlobs(): AsyncIterable<{ key: string; modifiedAt: number }> {
    const dir = await fs.opendir(this.uploadsDir);
    for await (const entry of dir) {
      if (!entry.isFile() || !/^[0-9a-f-]{36}$/.test(entry.name)) continue;
      const stats = await fs.stat(path.join(this.uploadsDir, entry.name)).catch(() => null);
      if (stats) yield { key: entry.name, modifiedAt: stats.mtimeMs };
    }
  }

  async sweepAbandoned(): Promise<number> {
    return 0; // nothing is left half-made here: scratch files go at start
  }

  async importBlob(key: string, sourcePath: string): Promise<void> {
    const target = this.uploadPath(key);
    const temporary = `${target}.${randomUUID()}.importing`;
    try {
      await fs.copyFile(sourcePath, temporary, constants.COPYFILE_FICLONE);
      if (this.options.durable) await syncFile(temporary);
      // A link, not a rename: it never replaces a blob that is there.
      await fs.link(temporary, target);
    } finally {
      await fs.rm(temporary, { force: true });
    }
    if (this.options.durable) await syncDirectory(this.uploadsDir);
  }

  /** Epoch records are empty files named by the epoch, beside the blobs (DATA_DIR/epochs). */
  async latestEpoch(): Promise<number | null> {
    const names = await fs.readdir(this.epochsDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const epochs = names.filter((name) => /^[0-9]+$/.test(name)).map(Number);
    return epochs.length === 0 ? null : Math.max(...epochs);
  }

  async recordEpoch(epoch: number): Promise<void> {
    await fs.mkdir(this.epochsDir, { recursive: true });
    await fs.writeFile(path.join(this.epochsDir, String(epoch)), '');
    if (this.options.durable) await syncDirectory(this.epochsDir);
    for (const name of await fs.readdir(this.epochsDir)) {
      if (/^[0-9]+$/.test(name) && Number(name) < epoch - KEPT_EPOCH_RECORDS) await fs.rm(path.join(this.epochsDir, name), { force: true });
    }
  }

  async freeBytes(): Promise<number | null> {
    const stats = await fs.statfs(this.options.root);
    return stats.bavail * stats.bsize;
  }

  async check(): Promise<void> {
    // The folder is there and writable (a disk remounted read-only, or gone, fails this).
    await fs.access(this.uploadsDir, constants.W_OK);
  }
}
