/**
 * One object upload fed while a chunk arrives: a pipe with backpressure between the request
 * and the store's PUT, so the transfer to the store overlaps the client's. A body that is a
 * live stream cannot be sent twice, so a failed transfer is not retried here: the caller
 * still has the bytes in its scratch file and stores them from there. The client's pauses are
 * not the store's fault, so the transfer has no clock of its own; it fails when the store
 * leaves bytes waiting for `timeoutMs`, or takes that long to answer once the body is sent.
 */
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { PieceStream } from '../domain/storage/ports.js';
import { storageUnavailable } from './s3-deadlines.js';

/** How much of a piece may wait in memory for the store: about one socket read's worth. */
const PIPE_BYTES = 256 * 1024;

export type SendBody = (body: Readable, signal: AbortSignal) => Promise<unknown>;

export class StreamedPut implements PieceStream {
  private readonly key: string;
  private readonly timeoutMs: number;

  private readonly body = new PassThrough({ highWaterMark: PIPE_BYTES });
  private readonly controller = new AbortController();
  private readonly sent: Promise<void>;

  constructor(key: string, send: SendBody, timeoutMs: number) {
    this.key = key;
    this.timeoutMs = timeoutMs;
    // The transfer's outcome is `sent`; the pipe's own errors only repeat it.
    this.body.on('error', () => undefined);
    this.sent = send(this.body, this.controller.signal).then(() => undefined);
    // A failure is seen by the next write or by finish(); until then it must not go unhandled.
    this.sent.catch(() => this.body.destroy());
  }

  async write(bytes: Buffer): Promise<void> {
    if (this.body.destroyed) await this.sent;
    if (this.body.write(bytes)) return;
    await this.within(
      'the store took no bytes',
      Promise.race([
        once(this.body, 'drain'),
        this.sent.then(() => {
          throw new Error('the store answered before the piece was whole');
        }),
      ]),
    );
  }

  async finish(): Promise<string> {
    this.body.end();
    await this.within('the store did not answer the whole piece', this.sent);
    return this.key;
  }

  async abort(): Promise<void> {
    // Not waited for: the aborted request settles on its own, and nothing of it is kept.
    this.controller.abort();
    this.body.destroy();
  }

  /** `waiting`, or STORAGE_UNAVAILABLE (and the transfer aborted) when it takes timeoutMs. */
  private async within(what: string, waiting: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        void this.abort();
        reject(storageUnavailable('PutObject', new Error(`${what} for ${this.timeoutMs / 1000} s`)));
      }, this.timeoutMs);
    });
    try {
      await Promise.race([waiting, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
