/**
 * Typed wrappers for the whole API (SPEC 2-5): one method per endpoint, replies typed by the
 * server's own schemas, failures thrown as TrickleApiError with the SPEC's error name.
 */
import { Transport, type TransportOptions } from './transport.js';
import type { AccountUser, Attachment, AttachmentRef, AudioClip, Block, ByteRange, ClipChanges, Message, NewClip, NewMessage, PageQuery, PublicUser } from './types.js';

export interface ChunkRequest {
  offset: number;
  bytes: Uint8Array;
  /** Hex SHA1 of `bytes`; the server refuses the chunk (and records nothing) if it differs. */
  sha1?: string;
  /** Fixes the size of an attachment created without one (SPEC 3.8), with its last chunk. */
  size?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ClipQuery extends PageQuery {
  /** Searches title and description. */
  query?: string;
}

/** Per-call options of requests that may be cancelled. */
export interface Cancellable {
  signal?: AbortSignal;
  /** Milliseconds without an answer before the request fails with TrickleTimeoutError. */
  timeoutMs?: number;
}

const iso = (date: Date | undefined) => date?.toISOString();

function pageQuery(page: PageQuery = {}): Record<string, string | number | undefined> {
  return {
    'page[number]': page.page,
    'page[items]': page.items,
    max_time: page.maxTime === undefined ? undefined : Math.floor(page.maxTime.getTime() / 1000),
  };
}

function fileRef(ref: AttachmentRef | undefined) {
  return ref === undefined ? undefined : { chunked_attachment_id: ref.chunked_attachment_id, fingerprint: ref.fingerprint };
}

export class TrickleClient {
  readonly transport: Transport;

  constructor(options: TransportOptions) {
    this.transport = new Transport(options);
  }

  get server(): string {
    return this.transport.server;
  }

  get token(): string | undefined {
    return this.transport.token;
  }

  set token(token: string | undefined) {
    this.transport.token = token;
  }

  // --- users and tokens (SPEC 2)

  /** `inviteCode`: needed when the server registers by invitation only (REGISTRATION=invite). */
  async register(user: { username: string; email: string; password: string; inviteCode?: string }): Promise<AccountUser> {
    const { inviteCode, ...fields } = user;
    return (await this.transport.call<{ user: AccountUser }>('POST', '/users', { json: { user: { ...fields, invite_code: inviteCode } } })).user;
  }

  /** The OAuth 2 password grant; the token is kept for the calls that follow, and returned. */
  async login(username: string, password: string): Promise<string> {
    const reply = await this.transport.call<{ access_token: string }>('POST', '/oauth/token', { json: { grant_type: 'password', username, password } });
    this.transport.token = reply.access_token;
    return reply.access_token;
  }

  /**
   * Revokes the token in use (RFC 7009) and forgets it. Revoking an unknown or already
   * revoked token succeeds, so logging out twice is harmless.
   */
  async logout(): Promise<void> {
    const token = this.transport.token;
    if (token === undefined) return;
    await this.transport.call('POST', '/oauth/revoke', { json: { token } });
    this.transport.token = undefined;
  }

  /** Revokes every token of the signed-in user, on every device, and forgets this one. */
  async logoutEverywhere(): Promise<void> {
    await this.transport.call('DELETE', '/account/tokens');
    this.transport.token = undefined;
  }

  /**
   * Changes the signed-in user's password. Every other token of the account (other devices,
   * other sessions) stops working; the one in use goes on.
   */
  async changePassword(current: string, next: string): Promise<AccountUser> {
    return (await this.transport.call<{ user: AccountUser }>('PUT', '/account/password', { json: { password: { current, new: next } } })).user;
  }

  /**
   * Erases the signed-in account and everything of it (SPEC 10) and forgets the token. Needs the
   * password; an account of the app's identity provider has none and sends a JWT issued in the
   * last 5 minutes as its token instead (pass no password). The erasure finishes in the background.
   */
  async deleteAccount(password?: string): Promise<void> {
    await this.transport.call('DELETE', '/account', password === undefined ? {} : { json: { password } });
    this.transport.token = undefined;
  }

  async account(): Promise<AccountUser> {
    return (await this.transport.call<{ user: AccountUser }>('GET', '/account')).user;
  }

  async user(id: number): Promise<PublicUser> {
    return (await this.transport.call<{ user: PublicUser }>('GET', `/users/${id}`)).user;
  }

  async userByName(username: string): Promise<PublicUser> {
    return (await this.transport.call<{ user: PublicUser }>('GET', '/users', { query: { username } })).user;
  }

  // --- blocking (SPEC 10)

  /** Blocks a user: their messages are refused, and the inbox hides what they sent. Blocking twice is harmless. */
  async block(userId: number): Promise<Block> {
    return (await this.transport.call<{ block: Block }>('POST', '/account/blocks', { json: { block: { user_id: userId } } })).block;
  }

  async unblock(userId: number): Promise<void> {
    await this.transport.call('DELETE', `/account/blocks/${userId}`);
  }

  /** The users the signed-in user blocks, most recently blocked first. */
  async blocks(page: PageQuery = {}): Promise<Block[]> {
    return (await this.transport.call<{ blocks: Block[] }>('GET', '/account/blocks', { query: pageQuery(page) })).blocks;
  }

  // --- chunked attachments (SPEC 3)

  /** `size` undefined: the size is not known yet (a recording still going on); fix it later with setAttachmentSize. */
  async createAttachment(size: number | undefined, filename?: string, options: Cancellable = {}): Promise<Attachment> {
    const reply = await this.transport.call<{ attachment: Attachment }>('POST', '/attachments', { json: { attachment: { size, filename } }, ...options });
    return reply.attachment;
  }

  /** Sends one chunk as a raw body (SPEC 3.3), the leanest way there is. */
  async putChunk(id: number, chunk: ChunkRequest): Promise<Attachment> {
    const query = { 'attachment[chunk_offset]': chunk.offset, 'attachment[chunk_sha1]': chunk.sha1, 'attachment[size]': chunk.size };
    const options = { query, bytes: chunk.bytes, signal: chunk.signal, timeoutMs: chunk.timeoutMs };
    return (await this.transport.call<{ attachment: Attachment }>('PUT', `/attachments/${id}`, options)).attachment;
  }

  /** Fixes the size of an attachment created without one (SPEC 3.8); it must cover every byte received. */
  async setAttachmentSize(id: number, size: number, options: Cancellable = {}): Promise<Attachment> {
    return (await this.transport.call<{ attachment: Attachment }>('PUT', `/attachments/${id}`, { json: { attachment: { size } }, ...options })).attachment;
  }

  async attachment(id: number, options: Cancellable = {}): Promise<Attachment> {
    return (await this.transport.call<{ attachment: Attachment }>('GET', `/attachments/${id}`, options)).attachment;
  }

  async deleteAttachment(id: number): Promise<void> {
    await this.transport.call('DELETE', `/attachments/${id}`);
  }

  /**
   * The caller's attachments not used yet (uploading or complete), newest first (SPEC 3.9):
   * what counts against `max_open_attachments`, to resume or clean up what a crash left behind.
   */
  async attachments(page: PageQuery = {}): Promise<Attachment[]> {
    return (await this.transport.call<{ attachments: Attachment[] }>('GET', '/attachments', { query: pageQuery(page) })).attachments;
  }

  // --- audio clips (SPEC 4)

  /** Resolves the clip, and whether this call made it (false: the uuid was known, nothing new was made). */
  async createClip(clip: NewClip): Promise<{ clip: AudioClip; created: boolean }> {
    const response = await this.transport.send('POST', '/audio_clips', {
      json: {
        audio_clip: {
          title: clip.title,
          uploaded_data: fileRef(clip.audio),
          uploaded_image: fileRef(clip.image),
          description: clip.description,
          recorded_at: iso(clip.recordedAt),
          uuid: clip.uuid,
          tags: clip.tags,
        },
      },
    });
    const reply = (await response.json()) as { body: { audio_clip: AudioClip } };
    return { clip: reply.body.audio_clip, created: response.status === 201 };
  }

  async clips(query: ClipQuery & { userId?: number; mine?: boolean } = {}): Promise<AudioClip[]> {
    const path = query.mine ? '/account/audio_clips' : query.userId !== undefined ? `/users/${query.userId}/audio_clips` : '/audio_clips';
    const reply = await this.transport.call<{ audio_clips: AudioClip[] }>('GET', path, { query: { ...pageQuery(query), 'find[query]': query.query } });
    return reply.audio_clips;
  }

  async clip(id: number): Promise<AudioClip> {
    return (await this.transport.call<{ audio_clip: AudioClip }>('GET', `/audio_clips/${id}`)).audio_clip;
  }

  async updateClip(id: number, changes: ClipChanges): Promise<AudioClip> {
    const audio_clip = { title: changes.title, description: changes.description, tags: changes.tags, recorded_at: iso(changes.recordedAt) };
    return (await this.transport.call<{ audio_clip: AudioClip }>('PUT', `/audio_clips/${id}`, { json: { audio_clip } })).audio_clip;
  }

  async deleteClip(id: number): Promise<void> {
    await this.transport.call('DELETE', `/audio_clips/${id}`);
  }

  // --- private messages (SPEC 5)

  async sendMessage(message: NewMessage): Promise<{ message: Message; created: boolean }> {
    const response = await this.transport.send('POST', '/account/outbox', {
      json: {
        message: {
          recipient_id: message.recipientId,
          uploaded_data: fileRef(message.audio),
          uploaded_image: fileRef(message.image),
          title: message.title,
          parent_id: message.parentId,
          uuid: message.uuid,
          recorded_at: iso(message.recordedAt),
        },
      },
    });
    const reply = (await response.json()) as { body: { message: Message } };
    return { message: reply.body.message, created: response.status === 201 };
  }

  async inbox(page: PageQuery = {}): Promise<Message[]> {
    return (await this.transport.call<{ messages: Message[] }>('GET', '/account/inbox', { query: pageQuery(page) })).messages;
  }

  async outbox(page: PageQuery = {}): Promise<Message[]> {
    return (await this.transport.call<{ messages: Message[] }>('GET', '/account/outbox', { query: pageQuery(page) })).messages;
  }

  async message(id: number): Promise<Message> {
    return (await this.transport.call<{ message: Message }>('GET', `/account/messages/${id}`)).message;
  }

  async markPlayed(id: number): Promise<Message> {
    return (await this.transport.call<{ message: Message }>('PUT', `/account/messages/${id}`, { json: { message: { played: 1 } } })).message;
  }

  async deleteMessage(id: number): Promise<void> {
    await this.transport.call('DELETE', `/account/messages/${id}`);
  }

  // --- files

  /**
   * Streams a file the API serves (a clip's or message's `urls.audio` or `urls.image`).
   * `range` asks for the bytes [start, end) only, e.g. to continue a broken download.
   */
  async download(path: string, options: Cancellable & { range?: ByteRange | [start: number]; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: '*/*', ...options.headers };
    if (options.range) headers.range = `bytes=${options.range[0]}-${options.range[1] === undefined ? '' : options.range[1] - 1}`;
    return this.transport.send('GET', path, { headers, signal: options.signal, timeoutMs: options.timeoutMs });
  }
}
