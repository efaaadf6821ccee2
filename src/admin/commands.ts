/** The commands of `trickle-admin`, each a function of its parsed arguments and the context. */
import type { ParseArgsConfig } from 'node:util';
import { formatBytes, table, UsageError, type Output } from '../cli/output.js';
import { canAsk, confirm } from '../cli/prompt.js';
import type { StorageUse, UserRecord, UserState } from '../domain/users/ports.js';
import { DEFAULT_INVITE_TTL_SECONDS } from '../domain/users/invites.js';
import type { AdminContext } from './context.js';

export interface AdminArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface AdminCommand {
  name: string;
  /** Synopsis after the name, for the usage text. */
  synopsis: string;
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(args: AdminArgs, context: AdminContext, output: Output): Promise<void>;
}

const STATES: UserState[] = ['active', 'disabled', 'erasing'];
const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 19).replace('T', ' '));

function userView(user: UserRecord) {
  return { id: user.id, username: user.username, email: user.email, state: user.state, created_at: new Date(user.createdAt).toISOString() };
}

function whole(value: string | boolean | undefined, name: string, fallback: number, max = 1_000_000): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,6}$/.test(value) || Number(value) > max) throw new UsageError(`${name} must be a whole number from 1 to ${max}`);
  return Number(value);
}

/** `90` (seconds), `30m`, `12h`, `7d`. */
export function parseDuration(text: string): number {
  const match = /^([1-9][0-9]{0,6})([smhd]?)$/.exec(text);
  if (!match) throw new UsageError(`--expires must be like 3600, 30m, 12h or 7d, got "${text}"`);
  return Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function oneUser(args: AdminArgs, command: string): string {
  const [which, extra] = args.positionals;
  if (which === undefined) throw new UsageError(`${command} needs a USER (an id or a username)`);
  if (extra !== undefined) throw new UsageError(`${command} takes one USER, got "${extra}" too`);
  return which;
}

function noPositionals(args: AdminArgs, command: string): void {
  if (args.positionals.length > 0) throw new UsageError(`${command} takes no arguments, got "${args.positionals[0]}"`);
}

const bytes = (use: StorageUse) => ({ files: use.files, renditions: use.renditions, uploads: use.uploads, total: use.total });
const storageRow = (name: string, use: StorageUse) => [name, formatBytes(use.total), formatBytes(use.files), formatBytes(use.renditions), formatBytes(use.uploads)];
const STORAGE_HEADER = ['USER', 'TOTAL', 'FILES', 'RENDITIONS', 'UPLOADS'];

const usersCommand: AdminCommand = {
  name: 'users',
  synopsis: '[--query TEXT] [--state STATE] [--page N] [--items N]',
  summary: 'list users, newest first; --query finds a part of a username or email',
  options: { query: { type: 'string' }, state: { type: 'string' }, page: { type: 'string' }, items: { type: 'string' } },
  async run(args, context, output) {
    noPositionals(args, 'users');
    const state = args.values.state as string | undefined;
    if (state !== undefined && !STATES.includes(state as UserState)) throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
    const items = whole(args.values.items, '--items', 50, 1000);
    const page = whole(args.values.page, '--page', 1);
    const users = await context.users.list({ text: args.values.query as string | undefined, state: state as UserState | undefined, offset: (page - 1) * items, limit: items });
    const rows = users.map((u) => [String(u.id), u.username, u.email, u.state, iso(u.createdAt)]);
    output.result(rows.length === 0 ? 'No users.' : table(['ID', 'USERNAME', 'EMAIL', 'STATE', 'CREATED'], rows), { users: users.map(userView), page });
  },
};

const userCommand: AdminCommand = {
  name: 'user',
  synopsis: 'USER',
  summary: 'one user (an id or a username): state, what they have, bytes stored',
  options: {},
  async run(args, context, output) {
    const user = await context.users.find(oneUser(args, 'user'));
    const counts = await context.users.counts(user.id);
    const storage = (await context.users.storage(1, user)).users[0]!;
    const lines = [
      `${user.username} (id ${user.id}), ${user.state}, ${user.email || 'no email'}, since ${iso(user.createdAt)}`,
      ...(counts.subject !== null ? [`signs in through the identity provider as ${counts.subject}`] : []),
      `${counts.clips} clips, ${counts.messagesSent} messages sent, ${counts.messagesReceived} received, ${counts.openAttachments} open attachments, ${counts.tokens} tokens, blocks ${counts.blocks} users`,
      `stores ${formatBytes(storage.total)}: files ${formatBytes(storage.files)}, renditions ${formatBytes(storage.renditions)}, uploads ${formatBytes(storage.uploads)}`,
    ];
    output.result(lines.join('\n'), { user: { ...userView(user), ...counts, storage: bytes(storage) } });
  },
};

function stateCommand(name: 'disable' | 'enable'): AdminCommand {
  return {
    name,
    synopsis: 'USER',
    summary: name === 'disable' ? 'stop a user: their tokens and JWTs are refused at once, on every node' : 'let a disabled user sign in again',
    options: {},
    async run(args, context, output) {
      const user = await context.users.find(oneUser(args, name));
      const changed = name === 'disable' ? await context.users.disable(user) : await context.users.enable(user);
      const state = name === 'disable' ? 'disabled' : 'active';
      output.result(changed ? `${user.username} (id ${user.id}) is ${state} now` : `${user.username} (id ${user.id}) was ${state} already`, { user: { ...userView(user), state }, changed });
    },
  };
}

const eraseCommand: AdminCommand = {
  name: 'erase',
  synopsis: 'USER [--yes] [--no-wait]',
  summary: 'erase a user and everything theirs, as DELETE /account does',
  options: { yes: { type: 'boolean', short: 'y' }, 'no-wait': { type: 'boolean' } },
  async run(args, context, output) {
    const user = await context.users.find(oneUser(args, 'erase'));
    if (!args.values.yes) {
      if (!canAsk() || output.json) throw new UsageError('erase cannot be undone: confirm with --yes');
      if (!(await confirm(`Erase ${user.username} (id ${user.id}) and everything theirs, for good?`))) throw new Error('nothing was erased');
    }
    const erasure = await context.erasure();
    const began = await erasure.begin(user.id);
    if (args.values['no-wait']) {
      output.result(`${user.username} (id ${user.id}) signs in no more; a server erases the rest`, { user: userView(user), began, finished: false });
      return;
    }
    // Run here too, so it finishes without a server; a server running the job meanwhile does no harm.
    const started = Date.now();
    const report = await erasure.run(user.id);
    const seconds = (Date.now() - started) / 1000;
    const what = report ? `${report.clips} clips, ${report.messages} messages, ${report.attachments} attachments, ${report.blobs} stored objects` : 'what was left';
    output.result(`Erased ${user.username} (id ${user.id}): ${what} in ${seconds.toFixed(1)} s`, { user: { id: user.id, username: user.username }, began, erased: report ?? null, seconds });
  },
};

const revokeCommand: AdminCommand = {
  name: 'revoke-tokens',
  synopsis: 'USER',
  summary: "end every token of a user (JWTs end at their expiry; disable stops them at once)",
  options: {},
  async run(args, context, output) {
    const user = await context.users.find(oneUser(args, 'revoke-tokens'));
    const revoked = await context.users.revokeTokens(user);
    output.result(`Revoked ${revoked} tokens of ${user.username} (id ${user.id})`, { user: userView(user), revoked });
  },
};

const inviteCommand: AdminCommand = {
  name: 'invite',
  synopsis: '[--count N] [--expires DURATION]',
  summary: 'make single-use invite codes for REGISTRATION=invite (shown once; default expiry 7d)',
  options: { count: { type: 'string' }, expires: { type: 'string' } },
  async run(args, context, output) {
    noPositionals(args, 'invite');
    const count = whole(args.values.count, '--count', 1, 1000);
    const ttl = args.values.expires === undefined ? DEFAULT_INVITE_TTL_SECONDS : parseDuration(String(args.values.expires));
    const made = await context.invites.make(count, ttl);
    const invites = made.map((invite) => ({ id: invite.id, code: invite.code, expires_at: new Date(invite.expiresAt).toISOString() }));
    output.result(table(['CODE', 'ID', 'EXPIRES'], made.map((invite) => [invite.code, String(invite.id), iso(invite.expiresAt)])), { invites });
  },
};

const invitesCommand: AdminCommand = {
  name: 'invites',
  synopsis: '[--all] [--revoke ID]',
  summary: 'list invite codes still usable (--all: used and expired too); --revoke ID withdraws one',
  options: { all: { type: 'boolean' }, revoke: { type: 'string' }, items: { type: 'string' } },
  async run(args, context, output) {
    noPositionals(args, 'invites');
    if (args.values.revoke !== undefined) {
      const id = whole(args.values.revoke, '--revoke', 0, Number.MAX_SAFE_INTEGER);
      if (!(await context.invites.revoke(id))) throw new Error(`no unused invite code ${id}`);
      output.result(`Invite ${id} withdrawn`, { revoked: id });
      return;
    }
    const invites = await context.invites.list({ offset: 0, limit: whole(args.values.items, '--items', 100, 10_000) }, !args.values.all);
    const now = Date.now();
    const status = (i: (typeof invites)[number]) => (i.usedAt !== null ? `used ${iso(i.usedAt)}${i.usedBy === null ? '' : ` by ${i.usedBy}`}` : i.expiresAt <= now ? 'expired' : 'usable');
    const rows = invites.map((i) => [String(i.id), iso(i.createdAt), iso(i.expiresAt), status(i)]);
    const json = invites.map((i) => ({ id: i.id, created_at: new Date(i.createdAt).toISOString(), expires_at: new Date(i.expiresAt).toISOString(), used_at: i.usedAt === null ? null : new Date(i.usedAt).toISOString(), used_by: i.usedBy }));
    output.result(rows.length === 0 ? 'No invite codes.' : table(['ID', 'CREATED', 'EXPIRES', 'STATUS'], rows), { invites: json });
  },
};

const storageCommand: AdminCommand = {
  name: 'storage',
  synopsis: '[USER] [--top N]',
  summary: 'bytes stored per user (most first, --top N of them, default 20) and in all',
  options: { top: { type: 'string' } },
  async run(args, context, output) {
    const [which, extra] = args.positionals;
    if (extra !== undefined) throw new UsageError(`storage takes at most one USER, got "${extra}" too`);
    const user = which === undefined ? undefined : await context.users.find(which);
    const { users, all } = await context.users.storage(whole(args.values.top, '--top', 20, 100_000), user);
    const rows = [...users.map((u) => storageRow(`${u.username} (${u.id})`, u)), storageRow('all users', all)];
    output.result(table(STORAGE_HEADER, rows), { users: users.map((u) => ({ id: u.id, username: u.username, ...bytes(u) })), all: bytes(all) });
  },
};

export const COMMANDS: AdminCommand[] = [
  usersCommand,
  userCommand,
  stateCommand('disable'),
  stateCommand('enable'),
  eraseCommand,
  revokeCommand,
  inviteCommand,
  invitesCommand,
  storageCommand,
];
