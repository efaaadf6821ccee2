/**
 * Sequential writes of one chunk's bytes to a file (an upload written in place, or a piece's
 * scratch copy), coalesced so that a request waits for the disk only when too much is queued.
 */
import type { UploadHandle } from '../storage/ports.js';

/** Most bytes of one request waiting for the write before them; beyond it the source waits. */
const MAX_QUEUED = 1024 * 1024;
/** Most such bytes of all requests together: with many uploads at once, memory stays bounded. */
const MAX_QUEUED_TOTAL = 8 * 1024 * 1024;
/** Bytes queued or being written by every CoalescingWriter of this process. */
let queuedTotal = 0;

/**
 * Sequential writes of one chunk, coalesced: while one write is on its way to the
 * file, the pieces that arrive meanwhile are gathered and go in the next write as one writev.
 * Bytes are never held back waiting for more: a piece is written at once when no write is in
 * flight, so this adds no latency, and memory stays within MAX_QUEUED per request and
 * MAX_QUEUED_TOTAL for the process.
 */
export class CoalescingWriter {
  private readonly file: UploadHandle;
  /** Told of each piece once the write that carried it has ended (its memory may go). */
  private readonly written: ((piece: Buffer) => void) | undefined;

  /** Where the bytes written so far end (all of them, in order, from `start`). */
  writtenUpTo: number;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private running: Promise<void> | null = null;
  private failure: unknown = null;

  constructor(file: UploadHandle, start: number, written?: (piece: Buffer) => void) {
    this.file = file;
    this.writtenUpTo = start;
    this.written = written;
  }

  /** Queues a piece that follows the bytes queued so far; waits only when too much is queued. */
  async add(piece: Buffer): Promise<void> {
    if (this.failure !== null) throw this.failure;
    this.queue.push(piece);
    this.queuedBytes += piece.length;
    queuedTotal += piece.length;
    this.running ??= this.drain();
    if (this.queuedBytes >= MAX_QUEUED || queuedTotal >= MAX_QUEUED_TOTAL) await this.flush();
  }

  /** Waits until everything queued is written; throws what a write threw. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.failure !== null) throw this.failure;
  }

  /** The next bytes were placed some other way (flush() first): continue after them. */
  skipTo(position: number): void {
    this.writtenUpTo = position;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const buffers = this.queue;
        const bytes = this.queuedBytes;
        this.queue = [];
        this.queuedBytes = 0;
        try {
          await this.file.writev(buffers, this.writtenUpTo);
        } finally {
          queuedTotal -= bytes;
          // Written or failed, the pieces are not read again.
          if (this.written) for (const piece of buffers) this.written(piece);
        }
        this.writtenUpTo += bytes;
      }
    } catch (error) {
      // What was not written is dropped: only writtenUpTo counts.
      this.failure = error;
      queuedTotal -= this.queuedBytes;
      this.queue = [];
      this.queuedBytes = 0;
    } finally {
      this.running = null;
    }
  }
}
