/** tus `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent). */
import { ApiError } from '../../../domain/errors.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseUploadMetadata(header: string | undefined): Map<string, string> {
  const pairs = new Map<string, string>();
  if (header === undefined || header.trim() === '') return pairs;
  for (const element of header.split(',')) {
    const [key, value, extra] = element.trim().split(' ');
    if (!key || extra !== undefined || (value !== undefined && (!BASE64.test(value) || value.length % 4 !== 0))) {
      throw new ApiError('invalid_parameter', 'Upload-Metadata must be comma-separated "key base64value" pairs.', { parameter: 'Upload-Metadata' });
    }
    pairs.set(key, value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8'));
  }
  return pairs;
}

/** The file's name and type as tus clients send them: Uppy `filename`/`filetype`, others `name`/`type`. */
export function fileFromMetadata(pairs: Map<string, string>): { filename: string | undefined; contentType: string | null } {
  const type = pairs.get('filetype') ?? pairs.get('type');
  return { filename: pairs.get('filename') ?? pairs.get('name'), contentType: type && /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type.toLowerCase() : null };
}
