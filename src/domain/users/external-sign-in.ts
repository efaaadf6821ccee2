/**
 * Sign-in with the app's own identity provider: a verified token's (issuer, subject) names one
 * Trickle user, created the first time it is seen.
 */
import type { Clock } from '../clock.js';
import type { ExternalIdentity, ExternalIdentityRepository, IdentityVerifier, UserRecord } from './ports.js';
import { fitUsername, numberedUsername } from './usernames.js';

/** Stored instead of a password hash: no password verifies against it. */
export const NO_PASSWORD = '!external';
/** Numbered names tried before random suffixes; a busy name costs one insert each. */
const NUMBERED_TRIES = 8;
const MAX_TRIES = 16;

export class ExternalSignIn {
  private readonly verifier: IdentityVerifier;
  private readonly identities: ExternalIdentityRepository;
  private readonly clock: Clock;

  constructor(
    verifier: IdentityVerifier,
    identities: ExternalIdentityRepository,
    clock: Clock,
  ) {
    this.verifier = verifier;
    this.identities = identities;
    this.clock = clock;
  }

  recognizes(token: string): boolean {
    return this.verifier.recognizes(token);
  }

  /** The user the token signs in as; throws ApiError('invalid_token') when it fails a check. */
  async authenticate(token: string): Promise<UserRecord> {
    const identity = await this.verifier.verify(token);
    return (await this.identities.findUser(identity.issuer, identity.subject)) ?? this.createUser(identity);
  }

  /** When the token was issued (epoch ms), once it passes every check; null when it does not say. */
  async issuedAt(token: string): Promise<number | null> {
    return (await this.verifier.verify(token)).issuedAt;
  }

  private async createUser(identity: ExternalIdentity): Promise<UserRecord> {
    const base = fitUsername(identity.preferredUsername ?? identity.subject);
    for (let attempt = 1; attempt <= MAX_TRIES; attempt += 1) {
      const username =
        attempt === 1 ? base : attempt <= NUMBERED_TRIES ? numberedUsername(base, attempt) : numberedUsername(base, randomNumber());
      const user = await this.identities.createLinkedUser(
        { username, email: identity.email ?? '', passwordHash: NO_PASSWORD, createdAt: this.clock.now() },
        identity.issuer,
        identity.subject,
      );
      if (user) return user;
      // Taken username, or another request linked this identity first: then use its user.
      const linked = await this.identities.findUser(identity.issuer, identity.subject);
      if (linked) return linked;
    }
    throw new Error(`no free username near ${base} after ${MAX_TRIES} tries`);
  }
}

function randomNumber(): number {
  return 1000 + Math.floor(Math.random() * 9_000_000);
}
