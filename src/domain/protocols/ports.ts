/**
 * What the standard protocols ask of the world beyond attachments: what a protocol remembers
 * about an upload (src/db/repositories/upload-extras-repository.ts).
 */
import type { DigestAlgorithm, ExpectedDigest } from './digests.js';

/** What a protocol remembers about an upload besides the attachment itself. */
export interface UploadExtras {
  /** The creation request's metadata, as the client sent it (tus Upload-Metadata). */
  metadata: string | null;
  /** tus concatenation: a partial upload, or a final one made of these attachment ids. */
  concat: { kind: 'partial' } | { kind: 'final'; parts: number[] } | null;
  /** IETF Repr-Digest and Want-Repr-Digest sent before the upload completed. */
  digests: RepresentationDigests | null;
}

/** What a client asked about the whole representation: digests it must have, digests to send back. */
export interface RepresentationDigests {
  expected: ExpectedDigest[];
  wanted: DigestAlgorithm[];
}

export interface UploadExtrasRepository {
  save(attachmentId: number, extras: UploadExtras): Promise<void>;
  /** Adds representation digests to an upload's extras (creating them if it had none). */
  saveDigests(attachmentId: number, digests: RepresentationDigests): Promise<void>;
  find(attachmentId: number): Promise<UploadExtras | null>;
}
