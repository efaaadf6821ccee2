/** What messages ask of the world (SPEC 5): their rows (src/db/repositories/messages-repository.ts). */
import type { OutboxWriter } from '../jobs/outbox.js';
import type { CreateOutcome, FilesToAttach, MediaFileRecord } from '../media/ports.js';
import type { MediaProcessing } from '../media/processing.js';
import type { UserRef } from '../users/ports.js';

export interface NewMessage {
  senderId: number;
  recipientId: number;
  uuid: string | null;
  title: string;
  parentId: number | null;
  recordedAt: number | null;
  createdAt: number;
}

export interface MessageRecord extends NewMessage {
  id: number;
  sender: UserRef;
  recipient: UserRef;
  played: boolean;
  senderDeleted: boolean;
  recipientDeleted: boolean;
  audio: MediaFileRecord;
  image: MediaFileRecord | null;
  /** Background processing of its media (SPEC 8). */
  processing: MediaProcessing;
}

export interface MessageFilter {
  /** The inbox leaves out messages from senders the user blocks (SPEC 10). */
  box: 'inbox' | 'outbox';
  userId: number;
  maxTime?: number | undefined;
  offset: number;
  limit: number;
}

export interface MessageRepository {
  /** One transaction, like ClipRepository.create. */
  create(message: NewMessage, files: FilesToAttach, outbox?: OutboxWriter): Promise<CreateOutcome<MessageRecord>>;
  findById(id: number): Promise<MessageRecord | null>;
  findByUuid(senderId: number, uuid: string): Promise<MessageRecord | null>;
  list(filter: MessageFilter): Promise<MessageRecord[]>;
  markPlayed(id: number, played: boolean): Promise<void>;
  /**
   * Hides the message from one side; when both sides have deleted it, removes it and its
   * file records and resolves the storage keys to delete.
   */
  deleteFor(id: number, side: 'sender' | 'recipient'): Promise<string[]>;
}
