/**
 * Invite codes for REGISTRATION=invite (SPEC 10): made by an administrator, each registers one
 * user before it expires. Codes are shown once, when made; only their SHA-256 digests are kept.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { InviteRecord, InviteRepository } from './ports.js';

/** Crockford's base32: no I, L, O or U, so a code read aloud or retyped is not misread. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 16 symbols, 80 bits: guessing one among many live codes stays hopeless behind the rate limit. */
const LENGTH = 16;
export const DEFAULT_INVITE_TTL_SECONDS = 7 * 24 * 3600;

export interface MadeInvite extends InviteRecord {
  /** The code itself, e.g. `7KQ2-M9XD-4FHT-0WBE`: it exists only in this answer. */
  code: string;
}

/** The code as typed (any case, with or without dashes and spaces) to the form it was made in. */
export function normalizeInviteCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]+/g, '');
}

export function inviteDigest(code: string): string {
  return createHash('sha256').update(normalizeInviteCode(code)).digest('hex');
}

function newCode(): string {
  const symbols = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return symbols.match(/.{4}/g)!.join('-');
}

export class InviteCodes {
  private readonly invites: InviteRepository;
  private readonly clock: Clock;

  constructor(invites: InviteRepository, clock: Clock) {
    this.invites = invites;
    this.clock = clock;
  }

  async make(count: number, ttlSeconds = DEFAULT_INVITE_TTL_SECONDS): Promise<MadeInvite[]> {
    const now = this.clock.now();
    const made: MadeInvite[] = [];
    for (let i = 0; i < count; i += 1) {
      const code = newCode();
      made.push({ ...(await this.invites.create(inviteDigest(code), now, now + ttlSeconds * 1000)), code });
    }
    return made;
  }

  /** Newest first; `usableOnly`: codes that are neither used nor expired. */
  list(page: { offset: number; limit: number }, usableOnly = false): Promise<InviteRecord[]> {
    return this.invites.list({ ...page, ...(usableOnly ? { unusedAt: this.clock.now() } : {}) });
  }

  /** Withdraws a code that was not used; false when there is none such. */
  revoke(id: number): Promise<boolean> {
    return this.invites.deleteUnused(id);
  }
}
