/**
 * `trickle download ID`: a clip's audio (or a message's, with --message) to a file. The bytes go
 * to FILE.part first and are checked against the server's SHA1 before the rename; a transfer
 * cut off (or gone silent) is continued with a Range request, in this run after a lost network
 * comes back, or by the next run from the end of FILE.part. An existing FILE is replaced only
 * when the user says so at the terminal, or with --force.
 */
import { lstat, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { downloadFile, TrickleClient } from '../../client/node.js';
import { positiveInteger, type Command } from '../command.js';
import { formatBytes, UsageError } from '../output.js';
import { canAsk, confirm } from '../prompt.js';
import { requireToken, resolveConnection } from '../settings.js';

/** Throws unless `target` is free, or a person at the terminal agrees to replace it. */
async function mayOverwrite(target: string): Promise<void> {
  const existing = await lstat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (existing === null) return;
  if (existing.isDirectory()) throw new Error(`${target} is a folder; give a file name with --output`);
  if (!canAsk()) throw new Error(`${target} exists; not overwriting it without --force`);
  if (!(await confirm(`${target} exists. Overwrite it?`))) throw new Error(`${target} exists; left it as it was`);
}

export const downloadCommand: Command = {
  name: 'download',
  summary: "save a clip's audio (or a message's, with --message) to a file",
  help: [
    'Usage: trickle download ID [--message] [--output FILE] [--force]',
    '',
    '  --message            ID is a message of yours, not a clip',
    '  -o, --output FILE    where to save it (default: the uploaded filename, in this folder)',
    '  -f, --force          overwrite FILE if it exists, without asking',
    '',
    'An existing FILE is overwritten only after you say yes at the terminal, or with --force;',
    'without a terminal to ask at, it is left alone and the download fails.',
  ].join('\n'),
  options: { message: { type: 'boolean' }, output: { type: 'string', short: 'o' }, force: { type: 'boolean', short: 'f' } },
  async run({ values, positionals }, { output, server, token, signal }) {
    if (positionals.length !== 1) throw new UsageError('download needs exactly one ID');
    const id = positiveInteger(positionals[0], 'ID');
    const connection = await resolveConnection({ server, token });
    const client = new TrickleClient({ server: connection.server, token: values.message ? requireToken(connection) : connection.token });
    const item = values.message ? await client.message(id) : await client.clip(id);
    // The server already stripped path parts from the name; basename keeps it in this folder regardless.
    const target = (values.output as string | undefined) ?? (path.basename(item.audio.filename) || `audio-${id}`);
    const partial = `${target}.part`;
    if (!values.force) await mayOverwrite(target);

    const { sha1 } = await downloadFile(client, item.urls.audio, target, { signal, expectedSha1: item.audio.sha1 }).catch(async (error: unknown) => {
      // Kept for the next run to continue, unless nothing worth keeping is in it (a wrong SHA1 empties it).
      if ((await stat(partial).catch(() => null))?.size === 0) await rm(partial, { force: true });
      throw error;
    });
    output.result(`Saved ${formatBytes(item.audio.size)} to ${target}`, { file: path.resolve(target), size: item.audio.size, sha1, content_type: item.audio.content_type });
  },
};
