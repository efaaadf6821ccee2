/** `trickle clips` and `trickle inbox`: newest first, a page at a time. */
import { TrickleClient, type PageQuery } from '../../client/node.js';
import { positiveInteger, type Command, type OptionSpec, type ParsedArgs } from '../command.js';
import { formatDuration, table, UsageError } from '../output.js';
import { requireToken, resolveConnection } from '../settings.js';

const PAGE_OPTIONS: OptionSpec = { page: { type: 'string' }, items: { type: 'string' } };
const PAGE_HELP = ['  --page N             page number, from 1', '  --items N            clips per page (at most 150)'];

function pageOf(values: ParsedArgs['values']): PageQuery {
  const page: PageQuery = {};
  if (values.page !== undefined) page.page = positiveInteger(values.page as string, '--page');
  if (values.items !== undefined) page.items = positiveInteger(values.items as string, '--items');
  return page;
}

const day = (iso: string | null) => (iso === null ? '-' : iso.slice(0, 16).replace('T', ' '));

export const clipsCommand: Command = {
  name: 'clips',
  summary: 'list audio clips: everybody\'s, yours (--mine) or a user\'s (--user)',
  help: ['Usage: trickle clips [--mine | --user ID] [--query TEXT] [--page N] [--items N]', '', '  --mine               your own clips', '  --user ID            the clips of user ID', '  --query TEXT         search titles and descriptions', ...PAGE_HELP].join('\n'),
  options: { ...PAGE_OPTIONS, mine: { type: 'boolean' }, user: { type: 'string' }, query: { type: 'string' } },
  async run({ values, positionals }, { output, server, token }) {
    if (positionals.length > 0) throw new UsageError(`clips takes no arguments, got "${positionals[0]}"`);
    if (values.mine && values.user !== undefined) throw new UsageError('give --mine or --user, not both');
    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: values.mine ? requireToken(connection) : connection.token });
    const clips = await client.clips({
      ...pageOf(values),
      mine: values.mine === true,
      userId: values.user === undefined ? undefined : positiveInteger(values.user as string, '--user'),
      query: values.query as string | undefined,
    });
    const rows = clips.map((clip) => [String(clip.id), clip.title, formatDuration(clip.duration), clip.user.username, day(clip.uploaded_at)]);
    output.result(clips.length === 0 ? 'No clips.' : table(['ID', 'TITLE', 'LENGTH', 'BY', 'UPLOADED'], rows), { audio_clips: clips });
  },
};

export const inboxCommand: Command = {
  name: 'inbox',
  summary: 'list the voice messages you received',
  help: ['Usage: trickle inbox [--page N] [--items N]', '', ...PAGE_HELP].join('\n'),
  options: PAGE_OPTIONS,
  async run({ values, positionals }, { output, server, token }) {
    if (positionals.length > 0) throw new UsageError(`inbox takes no arguments, got "${positionals[0]}"`);
    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: requireToken(connection) });
    const messages = await client.inbox(pageOf(values));
    const rows = messages.map((m) => [String(m.id), m.sender.username, m.title ?? '', formatDuration(m.duration), m.played ? 'yes' : 'no', day(m.created_at)]);
    output.result(messages.length === 0 ? 'No messages.' : table(['ID', 'FROM', 'TITLE', 'LENGTH', 'PLAYED', 'RECEIVED'], rows), { messages });
  },
};
