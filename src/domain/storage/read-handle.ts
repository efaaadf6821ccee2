/** Reading a stretch of a positional handle (a scratch file, an upload written in place) as a stream. */
import type { UploadHandle } from './ports.js';

/** Bytes [from, to) of the handle, in buffers of at most `step` bytes; a handle that ends early is an error. */
export async function* readHandle(handle: UploadHandle, from: number, to: number, step = 1024 * 1024): AsyncGenerator<Buffer> {
  for (let position = from; position < to; ) {
    const buffer = Buffer.allocUnsafe(Math.min(step, to - position));
    const read = await handle.read(buffer, position, buffer.length);
    if (read === 0) throw new Error('staged chunk is shorter than expected');
    position += read;
    yield buffer.subarray(0, read);
  }
}
