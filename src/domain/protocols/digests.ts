/**
 * Integrity digests that standard clients send (tus `Upload-Checksum`, the IETF draft's
 * `Content-Digest` and `Repr-Digest`): a body is hashed while the engine consumes it, never
 * held, and checked once its last byte has passed, before anything is recorded.
 */
import { createHash, type Hash } from 'node:crypto';
import { ApiError } from '../errors.js';

export type DigestAlgorithm = 'sha1' | 'sha256';

export interface ExpectedDigest {
  algorithm: DigestAlgorithm;
  value: Buffer;
}

/** A body passed through on its way to the engine, hashed with each algorithm asked for as it goes. */
export class DigestingSource implements AsyncIterable<Buffer> {
  private readonly source: AsyncIterable<Buffer>;
  private readonly hashes = new Map<DigestAlgorithm, Hash>();
  private readonly digests = new Map<DigestAlgorithm, Buffer>();

  constructor(source: AsyncIterable<Buffer>, algorithms: Iterable<DigestAlgorithm>) {
    this.source = source;
    for (const algorithm of algorithms) this.hashes.set(algorithm, createHash(algorithm));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for await (const piece of this.source) {
      for (const hash of this.hashes.values()) hash.update(piece);
      yield piece;
    }
  }

  /** The digest of every byte that passed (call once the body has ended). */
  digest(algorithm: DigestAlgorithm): Buffer {
    let digest = this.digests.get(algorithm);
    if (!digest) {
      digest = this.hashes.get(algorithm)!.digest();
      this.digests.set(algorithm, digest);
    }
    return digest;
  }
}

/** Throws what the client must hear when a body's digest is not the one it sent; nothing was recorded. */
export function checkDigests(expected: ExpectedDigest[], actual: (algorithm: DigestAlgorithm) => Buffer): void {
  for (const { algorithm, value } of expected) {
    const found = actual(algorithm);
    if (!found.equals(value)) {
      throw new ApiError('chunk_checksum_mismatch', `The request's content does not match its ${algorithm} digest; nothing was recorded.`, {
        algorithm,
        expected: value.toString('base64'),
        actual: found.toString('base64'),
      });
    }
  }
}

/** The digest of no bytes at all (an empty body that carried a digest). */
export function emptyDigest(algorithm: DigestAlgorithm): Buffer {
  return createHash(algorithm).digest();
}

/** The digest of a whole stream, hashed as it is read. */
export async function streamDigest(source: AsyncIterable<Buffer>, algorithm: DigestAlgorithm): Promise<Buffer> {
  const hash = createHash(algorithm);
  for await (const piece of source) hash.update(piece);
  return hash.digest();
}
