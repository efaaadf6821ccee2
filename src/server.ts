/** Entry point of `npm start`: the server, configured by flags and environment. */
import { exitOnOldNode } from './required-node.js';

// Before the server's modules load: on an old Node a native module would crash without a word.
exitOnOldNode();
const { serve } = await import('./serve.js');

serve(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`trickle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
