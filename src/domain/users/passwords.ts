/**
 * Password hashing with scrypt (memory-hard, salted). The parameters are stored with
 * each hash, so raising the cost later still verifies old hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface PasswordHashCost {
  /** log2 of scrypt's N. 15 (32 MiB; with p = 3 about 0.7 s of one core here) is the production default. */
  log2N: number;
}

const KEY_LENGTH = 32;
const BLOCK_SIZE = 8;
// N = 2^15, r = 8, p = 3 is one of OWASP's equivalent minimums for scrypt, at 32 MiB of memory.
const PARALLELISM = 3;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function scryptOptions(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

export async function hashPassword(password: string, cost: PasswordHashCost): Promise<string> {
  const salt = randomBytes(16);
  const N = 2 ** cost.log2N;
  const key = await derive(password, salt, scryptOptions(N, BLOCK_SIZE, PARALLELISM));
  return ['scrypt', N, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), scryptOptions(Number(n), Number(r), Number(p)));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
