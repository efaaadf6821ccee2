/** Incremental SHA1, so a file is fingerprinted while it is read, a piece at a time. */
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export interface Sha1 {
  update(bytes: Uint8Array): void;
  /** Lower-case hex. */
  digest(): string;
}

export type Sha1Factory = () => Sha1;

/** Pure JavaScript, for browsers; the Node entry point swaps in node:crypto, several times faster. */
export const portableSha1: Sha1Factory = () => {
  const hash = sha1.create();
  return {
    update: (bytes) => void hash.update(bytes),
    digest: () => bytesToHex(hash.digest()),
  };
};
