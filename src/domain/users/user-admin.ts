/**
 * What an administrator does to users (SPEC 10), beside the API: find them, disable and enable
 * them, end their tokens, see what they store. Disabling needs no token revocation to bite: every
 * request checks the user's state (UserService.authenticate), so tokens and JWTs stop at once,
 * on every node, and work again once the user is enabled.
 */
import { ApiError } from '../errors.js';
import { USERNAME } from './usernames.js';
import type { StorageUse, TokenRepository, UserAdminRepository, UserCounts, UserQuery, UserRecord, UserRef, UserRepository } from './ports.js';

export class UserAdmin {
  private readonly admin: UserAdminRepository;
  private readonly users: UserRepository;
  private readonly tokens: TokenRepository;

  constructor(admin: UserAdminRepository, users: UserRepository, tokens: TokenRepository) {
    this.admin = admin;
    this.users = users;
    this.tokens = tokens;
  }

  /** A user by id (digits) or username, in any state; ApiError('not_found') if there is none. */
  async find(which: string): Promise<UserRecord> {
    const byId = /^[1-9][0-9]{0,14}$/.test(which);
    // A name outside the username rules is nobody (and some, like a NUL byte, a database refuses to compare).
    const user = byId ? await this.users.findById(Number(which)) : USERNAME.test(which) ? await this.users.findByUsername(which) : null;
    if (!user) throw new ApiError('not_found', `No user ${JSON.stringify(which)}.`);
    return user;
  }

  list(query: UserQuery): Promise<UserRecord[]> {
    return this.admin.list(query);
  }

  counts(userId: number): Promise<UserCounts> {
    return this.admin.counts(userId);
  }

  /** False when the user was disabled already. */
  async disable(user: UserRecord): Promise<boolean> {
    if (user.state === 'erasing') throw new ApiError('forbidden', `User ${user.username} is being erased.`);
    return this.admin.setState(user.id, ['active'], 'disabled');
  }

  /** False when the user was active already. */
  async enable(user: UserRecord): Promise<boolean> {
    if (user.state === 'erasing') throw new ApiError('forbidden', `User ${user.username} is being erased; that cannot be undone.`);
    return this.admin.setState(user.id, ['disabled'], 'active');
  }

  /** Ends every Trickle token of the user; resolves how many there were. */
  revokeTokens(user: UserRecord): Promise<number> {
    return this.tokens.deleteAllForUser(user.id);
  }

  storage(limit: number, user?: UserRecord): Promise<{ users: Array<StorageUse & UserRef>; all: StorageUse }> {
    return this.admin.storage(limit, user?.id);
  }
}
