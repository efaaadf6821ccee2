/**
 * Verifies JWTs from the app's identity provider with `jose`: keys from a JWKS URL (cached,
 * fetched again when a token names a key id not seen yet) or a shared HS256 secret. The
 * domain sees only the IdentityVerifier port. `jose` loads with the first token verified, so a
 * server without JWT sign-in never loads it, and one with it starts without it.
 */
import type { errors, JWTPayload, JWTVerifyGetKey } from 'jose';
import { ApiError } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import type { ExternalIdentity, IdentityVerifier } from '../domain/users/ports.js';

/** Asymmetric algorithms accepted from a JWKS: never `none`, never an HMAC (no RS/HS confusion). */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const SECRET_ALGORITHMS = ['HS256'];
/** RFC 7518 3.2: an HS256 key is at least as long as the hash, 256 bits. */
const MIN_SECRET_BYTES = 32;
/** Compact JWS: three base64url parts; Trickle's own tokens have no dots. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtVerifierOptions {
  jwksUrl: string | null;
  secret: string | null;
  issuer: string;
  audience: string;
  /** Claim that holds the username wanted for a new user. */
  usernameClaim: string;
  /** Seconds of clock difference forgiven on exp and nbf. */
  clockSkewSeconds: number;
  /** Least time between two key-set fetches caused by unknown key ids. */
  jwksCooldownMs: number;
}

export class JwtVerifier implements IdentityVerifier {
  private readonly options: JwtVerifierOptions;
  private readonly clock: Clock;

  private readonly secretKey: Uint8Array | null;
  private readonly algorithms: string[];
  private loaded: Promise<{ jose: typeof import('jose'); key: JWTVerifyGetKey }> | null = null;

  constructor(
    options: JwtVerifierOptions,
    clock: Clock,
  ) {
    this.options = options;
    this.clock = clock;
    const { jwksUrl, secret } = options;
    if (!jwksUrl && !secret) throw new Error('a JWT verifier needs AUTH_JWKS_URL or AUTH_JWT_SECRET');
    if (!options.issuer || !options.audience) throw new Error('AUTH_ISSUER and AUTH_AUDIENCE are required with AUTH_JWKS_URL or AUTH_JWT_SECRET');
    const secretKey = secret ? new TextEncoder().encode(secret) : null;
    if (secretKey && secretKey.length < MIN_SECRET_BYTES) throw new Error(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`);
    const jwksHref = jwksUrl ? new URL(jwksUrl).href : null;
    this.secretKey = secretKey;
    this.algorithms = [...(secretKey ? SECRET_ALGORITHMS : []), ...(jwksHref ? JWKS_ALGORITHMS : [])];
  }

  /** jose and the key function, made once, on the first token. */
  private load(): Promise<{ jose: typeof import('jose'); key: JWTVerifyGetKey }> {
    this.loaded ??= import('jose').then((jose) => {
      const { jwksUrl, jwksCooldownMs } = this.options;
      const jwks = jwksUrl ? jose.createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: jwksCooldownMs, timeoutDuration: 5000 }) : null;
      const secretKey = this.secretKey;
      // jose checks the algorithm against the allow-list before asking for a key, so an HS256
      // token only ever meets the configured secret, and asymmetric ones only the JWKS.
      const key: JWTVerifyGetKey = async (header, token) => {
        if (header.alg === 'HS256' && secretKey) return secretKey;
        if (!jwks) throw new jose.errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
        return jwks(header, token);
      };
      return { jose, key };
    });
    return this.loaded;
  }

  recognizes(token: string): boolean {
    return COMPACT_JWS.test(token);
  }

  async verify(token: string): Promise<ExternalIdentity> {
    let payload: JWTPayload;
    const { jose, key } = await this.load();
    try {
      ({ payload } = await jose.jwtVerify(token, key, {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockSkewSeconds,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw new ApiError('invalid_token', rejectionReason(jose.errors, error));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new ApiError('invalid_token', 'The token has no subject (sub).');
    return {
      issuer: this.options.issuer,
      subject: payload.sub,
      preferredUsername: stringClaim(payload, this.options.usernameClaim),
      email: stringClaim(payload, 'email'),
      issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : null,
    };
  }
}

function stringClaim(payload: JWTPayload, name: string): string | null {
  const value = payload[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

const CLAIM_REASONS: Record<string, string> = {
  nbf: 'The token is not valid yet (nbf).',
  iss: 'The token is from another issuer (iss).',
  aud: 'The token is meant for another audience (aud).',
};

/** A sentence for the client; jose's messages name the failed check but not in our words. */
function rejectionReason(joseErrors: typeof errors, error: unknown): string {
  if (!(error instanceof joseErrors.JOSEError)) return 'The token could not be verified.';
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return 'The token has expired (exp).';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = error as errors.JWTClaimValidationFailed;
      if (reason === 'missing') return `The token lacks the "${claim}" claim.`;
      return CLAIM_REASONS[claim] ?? `The token's "${claim}" claim is invalid.`;
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return "The token's signing algorithm is not accepted.";
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'The token signature does not verify.';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return "The token is signed with a key the identity provider's key set does not hold.";
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return "The identity provider's key set could not be fetched.";
    default:
      return 'The token is not a valid JWT.';
  }
}
