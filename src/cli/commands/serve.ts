/** `trickle serve`: the server itself, with the same options as `npm start`. */
import type { Command } from '../command.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the Trickle server (SQLite and the local disk unless configured otherwise)',
  help: 'Usage: trickle serve [server options]\n\nRuns until SIGTERM or Ctrl-C; `trickle serve --help` lists every option.',
  options: {},
  raw: true,
  async run({ positionals }) {
    // Loaded on demand: the client commands never load the server.
    const { serve } = await import('../../serve.js');
    await serve(positionals, 'trickle serve');
  },
};
