/** `trickle serve`: the server itself, with the same options as `npm start`. */
import type { Command } from '../command.js';
import { UsageError } from '../output.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the Trickle server (SQLite and the local disk unless configured otherwise)',
  help: 'Usage: trickle serve [server options]\n\nRuns until SIGTERM or Ctrl-C; `trickle serve --help` lists every option.',
  options: {},
  raw: true,
  async run({ positionals }) {
    // Loaded on demand: the client commands never load the server.
    const server = await import('../../serve.js').catch((error: NodeJS.ErrnoException) => {
      // The published client package leaves the server out.
      if (error.code === 'ERR_MODULE_NOT_FOUND') throw new UsageError('`trickle serve` needs the Trickle server: run it from a checkout of the server (`npm start`).');
      throw error;
    });
    await server.serve(positionals, 'trickle serve');
  },
};
