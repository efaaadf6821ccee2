/**
 * `trickle clips`, `trickle inbox` and `trickle outbox`: newest first, a page at a time, saying
 * whether there is another page.
 */
import { TrickleClient, type Message, type PageQuery } from '../../client/node.js';
import { positiveInteger, type Command, type CommandContext, type OptionSpec, type ParsedArgs } from '../command.js';
import { formatDuration, table, UsageError } from '../output.js';
import { requireToken, resolveConnection } from '../settings.js';

/** The API's page size when none is asked for (SPEC 4), and its largest. */
const DEFAULT_ITEMS = 20;
const MAX_ITEMS = 150;
/** The API's largest page[number]. */
const MAX_PAGE_NUMBER = 1_000_000;

const PAGE_OPTIONS: OptionSpec = { page: { type: 'string' }, items: { type: 'string' } };
const pageHelp = (what: string) => ['  --page N             page number, from 1', `  --items N            ${what} per page (default ${DEFAULT_ITEMS}, at most ${MAX_ITEMS})`];

interface Page {
  page: number;
  items: number;
}

function pageOf(values: ParsedArgs['values']): Page {
  const page = values.page === undefined ? 1 : positiveInteger(values.page as string, '--page');
  const items = values.items === undefined ? DEFAULT_ITEMS : positiveInteger(values.items as string, '--items');
  if (items > MAX_ITEMS) throw new UsageError(`--items must be at most ${MAX_ITEMS}, got ${items}`);
  if (page > MAX_PAGE_NUMBER) throw new UsageError(`--page must be at most ${MAX_PAGE_NUMBER}, got ${page}`);
  return { page, items };
}

/**
 * One page of a list and the number of the next page, or null when this is the last. Only a
 * full page can have a successor: the item after it is asked for alone (as page number
 * `page × items + 1` of one-item pages), or, past the API's largest page number, the next page.
 */
async function fetchPage<T>(list: (query: PageQuery) => Promise<T[]>, { page, items }: Page): Promise<{ rows: T[]; nextPage: number | null }> {
  const rows = await list({ page, items });
  if (rows.length < items) return { rows, nextPage: null };
  const after = page * items + 1;
  const more = after <= MAX_PAGE_NUMBER ? await list({ page: after, items: 1 }) : await list({ page: page + 1, items });
  return { rows, nextPage: more.length > 0 ? page + 1 : null };
}

/** The human listing, and a line telling how to see the next page when there is one. */
function listing(rows: string[][], header: string[], empty: string, nextPage: number | null, page: Page): string {
  const body = rows.length === 0 ? empty : table(header, rows);
  if (nextPage === null) return body;
  const items = page.items === DEFAULT_ITEMS ? '' : ` --items ${page.items}`;
  return `${body}\nmore: run with --page ${nextPage}${items}`;
}

const day = (iso: string | null) => (iso === null ? '-' : iso.slice(0, 16).replace('T', ' '));

export const clipsCommand: Command = {
  name: 'clips',
  summary: 'list audio clips: everybody\'s, yours (--mine) or a user\'s (--user)',
  help: [
    'Usage: trickle clips [--mine | --user ID] [--query TEXT] [--page N] [--items N]',
    '',
    '  --mine               your own clips',
    '  --user ID            the clips of user ID',
    '  --query TEXT         search titles and descriptions',
    ...pageHelp('clips'),
    '',
    'Newest first. When there are more, the last line says which --page comes next (next_page with --json).',
  ].join('\n'),
  options: { ...PAGE_OPTIONS, mine: { type: 'boolean' }, user: { type: 'string' }, query: { type: 'string' } },
  async run({ values, positionals }, { output, server, token }) {
    if (positionals.length > 0) throw new UsageError(`clips takes no arguments, got "${positionals[0]}"`);
    if (values.mine && values.user !== undefined) throw new UsageError('give --mine or --user, not both');
    const page = pageOf(values);
    const userId = values.user === undefined ? undefined : positiveInteger(values.user as string, '--user');
    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: values.mine ? requireToken(connection) : connection.token });
    const query = values.query as string | undefined;
    const { rows: clips, nextPage } = await fetchPage((p) => client.clips({ ...p, mine: values.mine === true, userId, query }), page);
    const rows = clips.map((clip) => [String(clip.id), clip.title, formatDuration(clip.duration), clip.user.username, day(clip.uploaded_at)]);
    output.result(listing(rows, ['ID', 'TITLE', 'LENGTH', 'BY', 'UPLOADED'], 'No clips.', nextPage, page), { audio_clips: clips, page: page.page, next_page: nextPage });
  },
};

/** `inbox` and `outbox` differ in the list they read and the other party they show. */
function messagesCommand(box: 'inbox' | 'outbox'): Command {
  const received = box === 'inbox';
  return {
    name: box,
    summary: received ? 'list the voice messages you received' : 'list the voice messages you sent',
    help: [`Usage: trickle ${box} [--page N] [--items N]`, '', ...pageHelp('messages'), '', 'Newest first. When there are more, the last line says which --page comes next (next_page with --json).'].join('\n'),
    options: PAGE_OPTIONS,
    async run({ values, positionals }, { output, server, token }: CommandContext) {
      if (positionals.length > 0) throw new UsageError(`${box} takes no arguments, got "${positionals[0]}"`);
      const page = pageOf(values);
      const connection = await resolveConnection({ server, token });
      const client = new TrickleClient({ server: connection.server, token: requireToken(connection) });
      const { rows: messages, nextPage } = await fetchPage((p) => (received ? client.inbox(p) : client.outbox(p)), page);
      const other = (m: Message) => (received ? m.sender.username : m.recipient.username);
      const rows = messages.map((m) => [String(m.id), other(m), m.title ?? '', formatDuration(m.duration), m.played ? 'yes' : 'no', day(m.created_at)]);
      const header = ['ID', received ? 'FROM' : 'TO', 'TITLE', 'LENGTH', 'PLAYED', received ? 'RECEIVED' : 'SENT'];
      output.result(listing(rows, header, 'No messages.', nextPage, page), { messages, page: page.page, next_page: nextPage });
    },
  };
}

export const inboxCommand = messagesCommand('inbox');
export const outboxCommand = messagesCommand('outbox');
