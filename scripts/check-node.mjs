#!/usr/bin/env node
// Run first by `npm start` and `npm test` (and imported by scripts/run-tests.mjs): an old Node
// stops here at once with a message instead of building, then crashing in a native module with
// a segmentation fault. The minimum is package.json's `engines`; src/required-node.ts makes the
// same check in the server and CLI entry points.
import { readFileSync } from 'node:fs';
import { URL } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const minimum = Number(/\d+/.exec(pkg.engines.node)[0]);
const version = process.versions.node;
if (Number(version.split('.')[0]) < minimum) {
  process.stderr.write(
    `trickle: this is Node.js ${version}; Trickle needs Node.js ${minimum} or newer (24 LTS recommended).\n` +
      'In a Trickle checkout on Linux x64, `. scripts/use-node24.sh` puts Node 24 on PATH for this shell;\n' +
      'elsewhere install Node.js 24 LTS (https://nodejs.org).\n',
  );
  process.exit(1);
}
