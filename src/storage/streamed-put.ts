/**
 * One object upload fed while a chunk arrives: a pipe with backpressure between the request
 * and the store's PUT, so the transfer to the store overlaps the client's. A body that is a
 * live stream cannot be sent twice, so a failed transfer is not retried here: the caller
 * still has the bytes in its scratch file and stores them from there.
 */
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { PieceStream } from '../domain/ports.js';

/** How much of a piece may wait in memory for the store: about one socket read's worth. */
const PIPE_BYTES = 256 * 1024;

export type SendBody = (body: Readable, signal: AbortSignal) => Promise<unknown>;

export class StreamedPut implements PieceStream {
  private readonly key: string;

  private readonly body = new PassThrough({ highWaterMark: PIPE_BYTES });
  private readonly controller = new AbortController();
  private readonly sent: Promise<void>;

  constructor(
    key: string,
    send: SendBody,
  ) {
    this.key = key;
    // The transfer's outcome is `sent`; the pipe's own errors only repeat it.
    this.body.on('error', () => undefined);
    this.sent = send(this.body, this.controller.signal).then(() => undefined);
    // A failure is seen by the next write or by finish(); until then it must not go unhandled.
    this.sent.catch(() => this.body.destroy());
  }

  async write(bytes: Buffer): Promise<void> {
    if (this.body.destroyed) await this.sent;
    if (this.body.write(bytes)) return;
    await Promise.race([
      once(this.body, 'drain'),
      this.sent.then(() => {
        throw new Error('the store answered before the piece was whole');
      }),
    ]);
  }

  async finish(): Promise<string> {
    this.body.end();
    await this.sent;
    return this.key;
  }

  async abort(): Promise<void> {
    // Not waited for: the aborted request settles on its own, and nothing of it is kept.
    this.controller.abort();
    this.body.destroy();
  }
}
