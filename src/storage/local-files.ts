/**
 * Files on this node's disk: positional handles, and scratch files that stage bytes whose
 * fate is not decided yet (a chunk before it is accepted, a file part before its record).
 * Every store keeps its scratch files here; none outlives the process that made it.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ScratchFile, UploadHandle } from '../domain/storage/ports.js';

export class FileUploadHandle implements UploadHandle {
  protected readonly file: FileHandle;
  private readonly durable: boolean;
  private readonly release: () => Promise<void>;

  constructor(
    file: FileHandle,
    durable: boolean,
    release: () => Promise<void> = () => file.close(),
  ) {
    this.file = file;
    this.durable = durable;
    this.release = release;
  }

  async write(data: Buffer, position: number): Promise<void> {
    let done = 0;
    // A positional write may be short (signals, quotas); loop until all is written.
    while (done < data.length) {
      const { bytesWritten } = await this.file.write(data, done, data.length - done, position + done);
      if (bytesWritten === 0) throw new Error('short write with no progress');
      done += bytesWritten;
    }
  }

  async writev(data: Buffer[], position: number): Promise<void> {
    if (data.length === 1) return this.write(data[0]!, position);
    let buffers = data;
    let at = position;
    // One system call for many pieces; a short writev goes on from where it stopped.
    while (buffers.length > 0) {
      let { bytesWritten } = await this.file.writev(buffers, at);
      if (bytesWritten === 0) throw new Error('short write with no progress');
      at += bytesWritten;
      while (buffers.length > 0 && bytesWritten >= buffers[0]!.length) {
        bytesWritten -= buffers[0]!.length;
        buffers = buffers.slice(1);
      }
      if (bytesWritten > 0) buffers = [buffers[0]!.subarray(bytesWritten), ...buffers.slice(1)];
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

export class LocalScratchFile extends FileUploadHandle implements ScratchFile {
  readonly filePath: string;

  constructor(
    file: FileHandle,
    filePath: string,
  ) {
    super(file, false);
    this.filePath = filePath;
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

/** A folder of scratch files, emptied when it is opened: whatever is there is from a crash. */
export class ScratchDirectory {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string): Promise<ScratchDirectory> {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    return new ScratchDirectory(dir);
  }

  async create(): Promise<LocalScratchFile> {
    const filePath = path.join(this.dir, randomUUID());
    const file = await fs.open(filePath, 'wx+', 0o600);
    return new LocalScratchFile(file, filePath);
  }
}

/** fsync of a file or a folder (its entries), by path. */
async function syncPath(target: string): Promise<void> {
  const handle = await fs.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const syncDirectory = syncPath;
export const syncFile = syncPath;
