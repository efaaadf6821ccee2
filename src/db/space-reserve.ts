/**
 * Disk space held back so that deleting works on a full disk. Deleting writes too (SQLite
 * appends the change to its WAL before the row is gone), and deletes are what make room: a
 * full disk that refuses them stays full. So a file of zeros sits next to the database; when a
 * delete fails for want of space the file goes, the delete runs again in the room it leaves
 * (the bytes it frees follow), and the file is written again once the disk has room for it.
 */
import { promises as fs, rmSync } from 'node:fs';
import path from 'node:path';

/** Enough for many small deletes (a few WAL pages each), while chunk writes race for the room. */
export const RESERVE_BYTES = 4 * 1024 * 1024;
const RETRY_MS = 2000;

export class SpaceReserve {
  readonly file: string;
  private readonly bytes: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(file: string, bytes = RESERVE_BYTES) {
    this.file = file;
    this.bytes = bytes;
  }

  /**
   * Writes the reserve if it is missing; when the disk has no room for it, tries again later.
   * Where it cannot be written at all (a read-only directory), there is simply none.
   */
  async fill(): Promise<void> {
    if (this.closed) return;
    try {
      if ((await fs.stat(this.file).catch(() => null))?.size === this.bytes) return;
      const { bavail, bsize } = await fs.statfs(path.dirname(this.file));
      // Only spare room: the reserve must not be what makes a chunk write fail.
      if (bavail * bsize < 2 * this.bytes) return this.retryLater();
      const partial = `${this.file}.partial`;
      try {
        await fs.writeFile(partial, Buffer.alloc(this.bytes));
        await fs.rename(partial, this.file);
      } catch (error) {
        await fs.rm(partial, { force: true });
        throw error;
      }
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') this.retryLater();
    }
  }

  /** Gives the reserve's room back to the disk, at once; false when there was none to give. */
  release(): boolean {
    let released = false;
    try {
      rmSync(this.file);
      released = true;
    } catch {
      // Already released (a concurrent delete), or never written.
    }
    this.retryLater();
    return released;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private retryLater(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.fill();
    }, RETRY_MS);
    this.timer.unref();
  }
}
