/** Private voice messages (SPEC 5): visible to their sender and recipient only. */
import { ApiError } from '../errors.js';
import type { Outbox } from '../jobs/outbox.js';
import { createWithFiles, type MediaIntake, type UploadedFile } from '../media/media-intake.js';
import type { ForgottenBlobs } from '../maintenance/forgotten-blobs.js';
import type { BlockRepository, UserRepository } from '../users/ports.js';
import type { Clock } from '../clock.js';
import type { MessageFilter, MessageRecord, MessageRepository } from './ports.js';

export interface MessageInput {
  recipientId: number;
  title: string;
  parentId: number | null;
  uuid: string | null;
  recordedAt: number | null;
}

function visibleTo(message: MessageRecord, userId: number): boolean {
  return (message.senderId === userId && !message.senderDeleted) || (message.recipientId === userId && !message.recipientDeleted);
}

export class MessageService {
  private readonly messages: MessageRepository;
  private readonly users: UserRepository;
  private readonly blocks: BlockRepository;
  private readonly intake: MediaIntake;
  /** Deletes the files of a message gone from both sides, unless a backup holds deletions. */
  private readonly forgotten: ForgottenBlobs;
  private readonly clock: Clock;
  private readonly outbox: Outbox;

  constructor(
    messages: MessageRepository,
    users: UserRepository,
    blocks: BlockRepository,
    intake: MediaIntake,
    forgotten: ForgottenBlobs,
    clock: Clock,
    outbox: Outbox,
  ) {
    this.messages = messages;
    this.users = users;
    this.blocks = blocks;
    this.intake = intake;
    this.forgotten = forgotten;
    this.clock = clock;
    this.outbox = outbox;
  }

  async send(senderId: number, input: MessageInput, audio: UploadedFile, image: UploadedFile | null): Promise<{ message: MessageRecord; created: boolean }> {
    try {
      if (input.uuid !== null) {
        const existing = await this.messages.findByUuid(senderId, input.uuid);
        if (existing) {
          await this.intake.discard([audio, image]);
          return { message: existing, created: false };
        }
      }
      const recipient = await this.users.findById(input.recipientId);
      // A recipient who blocks the sender, or is being erased, looks to the sender like no recipient at all (SPEC 10).
      if (!recipient || recipient.state === 'erasing' || (await this.blocks.isBlocked(recipient.id, senderId))) {
        throw new ApiError('recipient_not_found', undefined, { recipient_id: input.recipientId });
      }
      if (input.parentId !== null) {
        const parent = await this.messages.findById(input.parentId);
        // A message the caller deleted from their view is not theirs to reply to any more.
        if (!parent || !visibleTo(parent, senderId)) {
          throw new ApiError('parent_not_found', undefined, { parent_id: input.parentId });
        }
      }
    } catch (error) {
      await this.intake.discard([audio, image]);
      throw error;
    }
    const now = this.clock.now();
    const { record, created } = await createWithFiles(this.intake, senderId, now, audio, image, (files) =>
      this.messages.create({ ...input, senderId, createdAt: now }, files, (scope, created) => this.outbox.write(scope, created)),
    );
    return { message: record, created };
  }

  /** The message if the caller sent or received it (and has not deleted it); else 404. */
  async get(userId: number, id: number): Promise<MessageRecord> {
    const message = await this.messages.findById(id);
    if (!message || !visibleTo(message, userId)) throw new ApiError('not_found', 'No such message.');
    return message;
  }

  list(filter: MessageFilter): Promise<MessageRecord[]> {
    return this.messages.list(filter);
  }

  async markPlayed(userId: number, id: number, played: boolean): Promise<MessageRecord> {
    const message = await this.get(userId, id);
    if (message.recipientId !== userId) throw new ApiError('forbidden', 'Only the recipient marks a message played.');
    await this.messages.markPlayed(id, played);
    return this.get(userId, id);
  }

  async delete(userId: number, id: number): Promise<void> {
    const message = await this.get(userId, id);
    // A message to oneself is deleted from both sides at once.
    const sides: Array<'sender' | 'recipient'> = [];
    if (message.senderId === userId) sides.push('sender');
    if (message.recipientId === userId) sides.push('recipient');
    for (const side of sides) {
      await this.forgotten.delete(await this.messages.deleteFor(id, side));
    }
  }
}
