/**
 * Blob storage on the local file system, under DATA_DIR/blobs. An upload is a sparse
 * file of its final size, written in place at its offsets, and stays where it is when
 * it becomes a clip's or message's file. Scratch files live beside the blobs so that
 * adopting one is a rename on the same file system.
 */
import { randomUUID } from 'node:crypto';
import { constants, createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore, ScratchFile, UploadHandle } from '../domain/ports.js';

export interface LocalDiskOptions {
  root: string;
  /** fdatasync before acknowledging; off only for benchmarks. */
  durable: boolean;
}

/**
 * Open descriptors of recently used blobs, shared by every request on that blob: a chunk,
 * the hasher and the sniffer would otherwise each open and close the file. Positional
 * reads and writes need no per-user state. Idle descriptors beyond `capacity` are closed,
 * least recently used first; a deleted blob's descriptor closes with its last lease.
 */
class DescriptorCache {
  private readonly entries = new Map<string, { file: Promise<FileHandle>; leases: number; retired: boolean }>();

  constructor(private readonly capacity: number) {}

  async lease(filePath: string): Promise<{ file: FileHandle; release: () => Promise<void> }> {
    let entry = this.entries.get(filePath);
    if (entry) {
      this.entries.delete(filePath); // re-inserted below: most recently used
    } else {
      entry = { file: fs.open(filePath, 'r+'), leases: 0, retired: false };
      entry.file.catch(() => this.entries.get(filePath) === entry && this.entries.delete(filePath));
    }
    this.entries.set(filePath, entry);
    entry.leases += 1;
    const current = entry;
    let file: FileHandle;
    try {
      file = await current.file;
    } catch (error) {
      current.leases -= 1;
      throw error;
    }
    await this.closeIdle();
    let released = false;
    return {
      file,
      release: async () => {
        if (released) return;
        released = true;
        current.leases -= 1;
        if (current.retired && current.leases === 0) await file.close();
        else await this.closeIdle();
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
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) await (await entry.file.catch(() => null))?.close().catch(() => undefined);
  }

  private async closeIdle(): Promise<void> {
    if (this.entries.size <= this.capacity) return;
    for (const [filePath, entry] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      if (entry.leases > 0) continue;
      this.entries.delete(filePath);
      await (await entry.file.catch(() => null))?.close();
    }
  }
}

class FileUploadHandle implements UploadHandle {
  constructor(
    protected readonly file: FileHandle,
    private readonly durable: boolean,
    private readonly release: () => Promise<void> = () => file.close(),
  ) {}

  async write(data: Buffer, position: number): Promise<void> {
    let done = 0;
    // A positional write may be short (signals, quotas); loop until all is written.
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, position + done);
      if (bytesWritten === 0) throw new Error('short write with no progress');
      done += bytesWritten;
    }
  }

  async read(buffer: Buffer, position: number, length: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async sync(): Promise<void> {
    if (this.durable) await this.file.datasync();
  }

  async truncate(length: number): Promise<void> {
    await this.file.truncate(length);
  }

  async close(): Promise<void> {
    await this.release();
  }
}

class LocalScratchFile extends FileUploadHandle implements ScratchFile {
  constructor(
    file: FileHandle,
    readonly filePath: string,
  ) {
    super(file, false);
  }

  /** Flushes the scratch file's bytes before it becomes a blob. */
  async flush(): Promise<void> {
    await this.file.sync();
  }

  async discard(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await fs.rm(this.filePath, { force: true });
  }
}

export class LocalDiskStore implements BlobStore {
  private readonly uploadsDir: string;
  private readonly scratchDir: string;
  private readonly descriptors = new DescriptorCache(64);

  private constructor(private readonly options: LocalDiskOptions) {
    this.uploadsDir = path.join(options.root, 'blobs');
    this.scratchDir = path.join(options.root, 'scratch');
  }

  static async open(options: LocalDiskOptions): Promise<LocalDiskStore> {
    const store = new LocalDiskStore(options);
    await fs.mkdir(store.uploadsDir, { recursive: true });
    // Scratch files never outlive a request; whatever is left is from a crash.
    await fs.rm(store.scratchDir, { recursive: true, force: true });
    await fs.mkdir(store.scratchDir, { recursive: true });
    return store;
  }

  private uploadPath(key: string): string {
    // Keys are ours (UUIDs), but never let one name a path outside the folder.
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return path.join(this.uploadsDir, key);
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

  async deleteUpload(key: string): Promise<void> {
    const filePath = this.uploadPath(key);
    await this.descriptors.retire(filePath);
    await fs.rm(filePath, { force: true });
  }

  async createScratch(): Promise<ScratchFile> {
    const filePath = path.join(this.scratchDir, randomUUID());
    const file = await fs.open(filePath, 'wx+', 0o600);
    return new LocalScratchFile(file, filePath);
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

  async freeBytes(): Promise<number | null> {
    const stats = await fs.statfs(this.options.root);
    return stats.bavail * stats.bsize;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
