/**
 * Where the JSON log goes (stdout): a destination that never blocks the server and never
 * throws. pino's own retries a failed write(1) in a loop on the main thread, so a full disk
 * under the log stopped every request, and once space came back its stream died of an
 * unhandled `error` event. Here a line that cannot be written (disk full, reader gone, any
 * error) is dropped and counted, and the next line simply tries again, so the log resumes by
 * itself. A pipe that is full for now (EAGAIN: its reader is slow) is retried on a timer while
 * lines wait in a bounded queue; past the bound they are dropped too.
 */
import { writeSync } from 'node:fs';

/** What lines may wait for a slow reader before new ones are dropped. */
const MAX_QUEUED_BYTES = 1024 * 1024;
const RETRY_MS = 20;
const NEWLINE = Buffer.from('\n');

interface QueuedLine {
  bytes: Buffer;
  /** Bytes of it already written. */
  written: number;
}

/** Lines still queued when the process exits get one last try. */
const open = new Set<LogDestination>();
let exitHooked = false;

export class LogDestination {
  private readonly queue: QueuedLine[] = [];
  private queuedBytes = 0;
  private retry: NodeJS.Timeout | null = null;
  /** A write failed inside a line: the next one starts on a line of its own. */
  private midLine = false;

  private readonly fd: number;
  private readonly dropped: (lines: number) => void;

  /** `dropped` hears of every line lost (for the metric). */
  constructor(fd: number, dropped: (lines: number) => void) {
    this.fd = fd;
    this.dropped = dropped;
    open.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const destination of open) destination.flush();
      });
    }
  }

  /** pino calls this with each line (newline included). */
  write(line: string): void {
    const bytes = Buffer.from(line);
    if (this.queue.length > 0 && this.queuedBytes + bytes.length > MAX_QUEUED_BYTES) return this.dropped(1);
    this.queue.push({ bytes, written: 0 });
    this.queuedBytes += bytes.length;
    // While a full pipe is waited for, the line keeps its turn in the queue.
    if (this.retry === null) this.flush();
  }

  /** The app closed: what is queued gets a try now, not at exit (later lines are still written). */
  close(): void {
    open.delete(this);
    this.flush();
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      try {
        if (this.midLine && head.written === 0) {
          if (writeSync(this.fd, NEWLINE) === 0) return this.retryLater();
          this.midLine = false;
        }
        const written = writeSync(this.fd, head.bytes, head.written);
        if (written === 0) return this.retryLater();
        head.written += written;
        // A short write: the rest goes on the next turn, or meets the error.
        if (head.written < head.bytes.length) continue;
        this.shift();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return this.retryLater();
        if (head.written > 0) this.midLine = true;
        this.shift();
        this.dropped(1);
      }
    }
  }

  private shift(): void {
    this.queuedBytes -= this.queue.shift()!.bytes.length;
  }

  private retryLater(): void {
    this.retry ??= setTimeout(() => {
      this.retry = null;
      this.flush();
    }, RETRY_MS).unref();
  }
}
