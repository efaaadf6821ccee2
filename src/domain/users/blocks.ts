/**
 * Blocking (SPEC 10): a user stops another's messages. The blocked sender is told nothing more
 * than that the recipient does not exist, and the blocker's inbox hides what they sent before.
 */
import { ApiError, invalidParameter } from '../errors.js';
import type { BlockRecord, BlockRepository, UserRepository } from './ports.js';
import type { Clock } from '../clock.js';

export class BlockService {
  private readonly blocks: BlockRepository;
  private readonly users: UserRepository;
  private readonly clock: Clock;

  constructor(
    blocks: BlockRepository,
    users: UserRepository,
    clock: Clock,
  ) {
    this.blocks = blocks;
    this.users = users;
    this.clock = clock;
  }

  /** Resolves the block, and whether this call made it (false: it was there already). */
  async block(blockerId: number, blockedId: number): Promise<{ block: BlockRecord; created: boolean }> {
    if (blockedId === blockerId) throw invalidParameter('block[user_id]', 'must be another user than you');
    const target = await this.users.findById(blockedId);
    if (!target || target.state === 'erasing') throw new ApiError('user_not_found', undefined, { user_id: blockedId });
    const added = await this.blocks.add(blockerId, blockedId, this.clock.now());
    if (added === null) throw new ApiError('user_not_found', undefined, { user_id: blockedId });
    return { block: { user: { id: target.id, username: target.username }, createdAt: added.createdAt }, created: added.created };
  }

  async unblock(blockerId: number, blockedId: number): Promise<void> {
    if (!(await this.blocks.remove(blockerId, blockedId))) throw new ApiError('not_found', 'You do not block this user.');
  }

  list(blockerId: number, page: { offset: number; limit: number; maxTime?: number | undefined }): Promise<BlockRecord[]> {
    return this.blocks.list(blockerId, page);
  }
}
