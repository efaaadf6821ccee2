/**
 * Frames one multipart/form-data body around a file part whose bytes are streamed
 * separately. Fields go first: Trickle streams a file in place only when the fields
 * that say where it belongs have arrived before it (otherwise it stages it to disk).
 */
import { randomBytes } from 'node:crypto';

export interface MultipartFrame {
  contentType: string;
  /** Every field part, then the file part's headers. */
  head: Buffer;
  /** The end of the file part and the closing boundary. */
  tail: Buffer;
  /** head + tail, to add the file's length to for Content-Length. */
  overhead: number;
}

export function multipartFrame(fields: Record<string, string>, fileField: string, filename: string): MultipartFrame {
  const boundary = `----trickle-bench-${randomBytes(12).toString('hex')}`;
  const fieldParts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  const head = Buffer.from(
    `${fieldParts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, head, tail, overhead: head.length + tail.length };
}
