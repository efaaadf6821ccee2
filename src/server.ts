/** Entry point of `npm start`: the server, configured by flags and environment. */
import { serve } from './serve.js';

serve(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`trickle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
