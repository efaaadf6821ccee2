/** `trickle password`: account changes that need the current password. */
import { TrickleClient } from '../../client/node.js';
import type { Command } from '../command.js';
import { canAsk, readPasswords } from '../prompt.js';
import { UsageError } from '../output.js';
import { requireToken, resolveConnection } from '../settings.js';

export const passwordCommand: Command = {
  name: 'password',
  summary: 'change your password (your other sessions are signed out)',
  help: [
    'Usage: trickle password',
    '',
    'Asks for the current password and the new one (twice at a terminal; from a script, the',
    'first two lines of stdin). Every other token of the account stops working; this one goes on.',
  ].join('\n'),
  options: {},
  async run({ positionals }, { output, server, token }) {
    if (positionals.length > 0) throw new UsageError(`password takes no arguments, got "${positionals[0]}"`);
    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: requireToken(connection) });
    const questions = ['Current password: ', 'New password (8 or more characters): '];
    const [current, next, repeated] = await readPasswords(canAsk() ? [...questions, 'New password again: '] : questions);
    if (repeated !== undefined && repeated !== next) throw new Error('the new passwords differ; nothing was changed');
    const user = await client.changePassword(current!, next!);
    output.result(`Password changed for ${user.username}; other sessions are signed out`, { user });
  },
};
