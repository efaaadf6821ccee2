/** Entry point of `npm start`: the server, configured by flags and environment. */
import module from 'node:module';
import { exitOnOldNode } from './required-node.js';

// V8 keeps the compiled code of every module on disk (NODE_COMPILE_CACHE, else in the system's
// temporary folder): a later start skips compiling it again. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.();

// Before the server's modules load: on an old Node a native module would crash without a word.
exitOnOldNode();
const { serve } = await import('./serve.js');

serve(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`trickle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
