/** Entry point of `npm run backup`, `npm run restore` and `npm run kept-files` (./commands.ts). */
import { exitOnOldNode } from '../required-node.js';

// Before the database driver loads: on an old Node a native module would crash without a word.
exitOnOldNode();
const { main } = await import('./commands.js');

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`trickle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
