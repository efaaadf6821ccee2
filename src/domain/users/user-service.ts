/** Registration, password sign-in and access tokens. */
import { createHash, randomBytes } from 'node:crypto';
import { ApiError, invalidParameter, missingParameter } from '../errors.js';
import type { Clock } from '../clock.js';
import type { InviteRepository, NewUser, TokenRepository, UserRecord, UserRepository } from './ports.js';
import { NO_PASSWORD, type ExternalSignIn } from './external-sign-in.js';
import { inviteDigest } from './invites.js';
import { hashPassword, verifyPassword, type PasswordHashCost } from './passwords.js';
import { USERNAME } from './usernames.js';

export interface RegistrationInput {
  username: string;
  email: string;
  password: string;
  /** Needed when registration is by invitation; ignored otherwise. */
  inviteCode?: string | undefined;
}

/** Who may register: anyone, holders of an invite code, or nobody (SPEC 10). */
export type RegistrationMode = 'open' | 'invite' | 'closed';

export interface PasswordChange {
  current: string;
  new: string;
}

export interface IssuedToken {
  token: string;
  /** Seconds until it expires; null: never. */
  expiresIn: number | null;
}

// Deliberately loose: one @, something on each side, a dot in the domain.
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const MAX_PASSWORD_LENGTH = 1024;

function checkNewPassword(password: string, parameter: string): void {
  if (password.length < 8) throw invalidParameter(parameter, 'must be at least 8 characters');
  if (password.length > MAX_PASSWORD_LENGTH) throw invalidParameter(parameter, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
}

/** How recent a JWT must be to erase an account that has no password (SPEC 10: "a fresh JWT"). */
export const FRESH_SIGN_IN_MS = 5 * 60_000;

function visible(user: UserRecord | null): UserRecord | null {
  return user?.state === 'erasing' ? null : user;
}

/** Tokens are stored as SHA-256 digests: a leaked table grants nothing. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface UserServiceOptions {
  registration: RegistrationMode;
  passwordCost: PasswordHashCost;
  /** Lifetime of a new access token in seconds; 0: tokens never expire. */
  accessTokenTtlSeconds: number;
}

export class UserService {
  private readonly users: UserRepository;
  private readonly tokens: TokenRepository;
  private readonly invites: InviteRepository;
  private readonly clock: Clock;
  private readonly options: UserServiceOptions;
  /** Sign-in with the app's identity provider (JWTs), when configured. */
  private readonly external: ExternalSignIn | null;

  private dummyHash: Promise<string> | null = null;

  constructor(
    users: UserRepository,
    tokens: TokenRepository,
    invites: InviteRepository,
    clock: Clock,
    options: UserServiceOptions,
    external: ExternalSignIn | null = null,
  ) {
    this.users = users;
    this.tokens = tokens;
    this.invites = invites;
    this.clock = clock;
    this.options = options;
    this.external = external;
  }

  async register(input: RegistrationInput): Promise<UserRecord> {
    const mode = this.options.registration;
    if (mode === 'closed') throw new ApiError('registration_disabled');
    if (mode === 'invite' && !input.inviteCode) throw new ApiError('missing_parameter', 'Registration here is by invitation: user[invite_code] is required.', { parameter: 'user[invite_code]' });
    if (!USERNAME.test(input.username)) throw invalidParameter('user[username]', 'must be 3 to 32 letters, digits or underscores');
    if (input.email.length > 254 || !EMAIL.test(input.email)) throw invalidParameter('user[email]', 'must be an email address');
    checkNewPassword(input.password, 'user[password]');
    const passwordHash = await hashPassword(input.password, this.options.passwordCost);
    const user: NewUser = { username: input.username, email: input.email, passwordHash, createdAt: this.clock.now() };
    const created = mode === 'invite' ? await this.registerInvited(user, input.inviteCode!) : await this.users.create(user);
    if (!created) throw new ApiError('username_taken', `The username ${input.username} is already taken.`);
    return created;
  }

  /** Null when the username is taken (the code is then not spent). */
  private async registerInvited(user: NewUser, code: string): Promise<UserRecord | null> {
    const outcome = await this.invites.register(user, inviteDigest(code), user.createdAt);
    if ('inviteInvalid' in outcome) throw new ApiError('invite_code_invalid', undefined, { parameter: 'user[invite_code]' });
    return 'user' in outcome ? outcome.user : null;
  }

  /** Resolves a new access token, or null when the credentials are wrong. */
  async issueToken(username: string, password: string): Promise<IssuedToken | null> {
    // No name outside the rules exists (and some, like a NUL byte, a database refuses to compare).
    const user = USERNAME.test(username) ? await this.users.findByUsername(username) : null;
    // An unknown user costs a hash too, so timing does not tell which usernames exist.
    this.dummyHash ??= hashPassword('not a password', this.options.passwordCost);
    const valid = await verifyPassword(password, user ? user.passwordHash : await this.dummyHash);
    // A disabled account, or one being erased, signs in no more.
    if (!user || !valid || user.state !== 'active') return null;
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const ttl = this.options.accessTokenTtlSeconds;
    await this.tokens.create(tokenDigest(token), user.id, now, ttl > 0 ? now + ttl * 1000 : null);
    return { token, expiresIn: ttl > 0 ? ttl : null };
  }

  /**
   * The token's user, or null for an unknown Trickle token. Trickle tokens live in the database
   * alone, so a revoke holds on every node at once; a JWT from the app's identity provider
   * that fails a check throws ApiError('invalid_token') with the reason.
   */
  async authenticate(token: string): Promise<UserRecord | null> {
    const user = this.external?.recognizes(token) ? await this.external.authenticate(token) : await this.tokens.findUser(tokenDigest(token), this.clock.now());
    // Checked on every request, so disabling an account stops its tokens and JWTs at once, on every node.
    if (user && user.state !== 'active') {
      throw new ApiError('invalid_token', user.state === 'disabled' ? 'This account is disabled.' : 'This account is being deleted.');
    }
    return user;
  }

  /**
   * Proves the caller is the account's owner before it is erased: its password, or for an
   * account of the app's identity provider (no password) a JWT issued in the last few minutes.
   */
  async confirmOwner(user: UserRecord, password: string | undefined, callerToken: string | null): Promise<void> {
    if (user.passwordHash !== NO_PASSWORD) {
      if (password === undefined) throw missingParameter('password');
      if (!(await verifyPassword(password, user.passwordHash))) throw new ApiError('wrong_password');
      return;
    }
    const issuedAt = callerToken !== null && this.external?.recognizes(callerToken) ? await this.external.issuedAt(callerToken) : null;
    if (issuedAt === null || this.clock.now() - issuedAt > FRESH_SIGN_IN_MS) throw new ApiError('recent_sign_in_required');
  }

  /**
   * Changes the user's password after checking the current one; every Trickle token of the
   * user except `callerToken` (the one the request came with) stops working, in the same
   * transaction. A JWT caller keeps no Trickle token: all of them go.
   */
  async changePassword(user: UserRecord, change: PasswordChange, callerToken: string | null): Promise<UserRecord> {
    if (user.passwordHash === NO_PASSWORD) {
      throw new ApiError('forbidden', "This account signs in through the app's identity provider; it has no password to change.");
    }
    if (!(await verifyPassword(change.current, user.passwordHash))) throw new ApiError('wrong_password', 'The current password is wrong.');
    checkNewPassword(change.new, 'password[new]');
    const passwordHash = await hashPassword(change.new, this.options.passwordCost);
    const keep = callerToken !== null && !this.external?.recognizes(callerToken) ? tokenDigest(callerToken) : null;
    await this.users.changePassword(user.id, passwordHash, keep);
    return { ...user, passwordHash };
  }

  /** RFC 7009: revoking an unknown or already revoked token is not an error. */
  async revoke(token: string): Promise<void> {
    await this.tokens.delete(tokenDigest(token));
  }

  /** Signs a user out everywhere: every access token it holds stops working. */
  signOutEverywhere(userId: number): Promise<number> {
    return this.tokens.deleteAllForUser(userId);
  }

  /** Drops expired tokens; they already grant nothing, this only keeps the table small. */
  sweepExpiredTokens(): Promise<number> {
    return this.tokens.deleteExpired(this.clock.now());
  }

  /** A user being erased is nobody already. */
  async findById(id: number): Promise<UserRecord | null> {
    return visible(await this.users.findById(id));
  }

  /** Case-insensitive, as usernames are unique regardless of case. */
  async findByUsername(username: string): Promise<UserRecord | null> {
    return USERNAME.test(username) ? visible(await this.users.findByUsername(username)) : null;
  }
}
