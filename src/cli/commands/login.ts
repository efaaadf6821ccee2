/** `trickle login` and `trickle register`: get a token and keep it in the user's config directory. */
import { TrickleClient } from '../../client/node.js';
import type { Command } from '../command.js';
import { UsageError } from '../output.js';
import { readPassword } from '../prompt.js';
import { readSaved, resolveConnection, saveLogin } from '../settings.js';

async function logIn(client: TrickleClient, username: string, password: string): Promise<string> {
  const token = await client.login(username, password);
  return saveLogin({ server: client.server, token, username });
}

export const loginCommand: Command = {
  name: 'login',
  summary: 'log in and remember the token',
  help: [
    'Usage: trickle login USERNAME',
    '',
    'Asks for the password (from the first line of stdin when it is not a terminal),',
    "and saves the access token for the server in the user's config directory.",
  ].join('\n'),
  options: {},
  async run({ positionals }, { output, server }) {
    const [username] = positionals;
    if (!username) throw new UsageError('login needs a USERNAME');
    const connection = await resolveConnection({ server, token: undefined });
    const client = new TrickleClient({ server: connection.server });
    const file = await logIn(client, username, await readPassword(`Password for ${username} on ${connection.server}: `));
    output.result(`Logged in to ${client.server} as ${username}; token saved in ${file}`, { server: client.server, username, config: file });
  },
};

export const registerCommand: Command = {
  name: 'register',
  summary: 'create an account, then log in',
  help: [
    'Usage: trickle register USERNAME --email EMAIL [--invite CODE]',
    '',
    'Asks for a password (8 or more characters), as `trickle login` does.',
    '  --invite CODE        an invite code, where the server registers by invitation only',
  ].join('\n'),
  options: { email: { type: 'string' }, invite: { type: 'string' } },
  async run({ positionals, values }, { output, server }) {
    const [username] = positionals;
    const email = values.email;
    if (!username) throw new UsageError('register needs a USERNAME');
    if (typeof email !== 'string') throw new UsageError('register needs --email');
    const connection = await resolveConnection({ server, token: undefined });
    const client = new TrickleClient({ server: connection.server });
    const password = await readPassword(`New password for ${username}: `);
    const invite = typeof values.invite === 'string' ? { inviteCode: values.invite } : {};
    const user = await client.register({ username, email, password, ...invite });
    const file = await logIn(client, username, password);
    output.result(`Registered ${user.username} (id ${user.id}) on ${client.server}; token saved in ${file}`, { user, config: file });
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  summary: 'revoke the token and forget it',
  help: [
    'Usage: trickle logout [--everywhere]',
    '',
    'Revokes the access token on the server and removes it from the config directory.',
    '--everywhere revokes every token of the account, on every device.',
  ].join('\n'),
  options: { everywhere: { type: 'boolean' } },
  async run({ values }, { output, server, token }) {
    const connection = await resolveConnection({ server, token });
    if (!connection.token) throw new Error(`not logged in to ${connection.server}`);
    const client = new TrickleClient({ server: connection.server, token: connection.token });
    if (values.everywhere) await client.logoutEverywhere();
    else await client.logout();
    // Forget the saved token if it is the one just revoked (or any token, after --everywhere).
    const saved = await readSaved();
    let file: string | null = null;
    if (saved.token !== undefined && saved.server === connection.server && (values.everywhere || saved.token === connection.token)) {
      file = await saveLogin({ server: saved.server });
    }
    const where = values.everywhere ? 'everywhere' : 'this token';
    output.result(`Logged out of ${connection.server} (${where})`, { server: connection.server, everywhere: Boolean(values.everywhere), config: file });
  },
};
