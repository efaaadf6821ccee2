#!/usr/bin/env node
// Builds packages/client (npm name in its package.json): the SDK's Node and browser entries and
// the `trickle` CLI bundled with esbuild, and type declarations from tsc. The package's
// dependencies stay external; the server (`trickle serve`) is left out.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.join(import.meta.dirname, '..');
const out = path.join(root, 'packages', 'client', 'dist');
rmSync(out, { recursive: true, force: true });

const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning', packages: 'external', sourcemap: true };
await build({ ...common, entryPoints: [path.join(root, 'src/client/index.ts')], platform: 'browser', outfile: path.join(out, 'browser.js') });
await build({ ...common, entryPoints: [path.join(root, 'src/client/node.ts')], platform: 'node', outfile: path.join(out, 'node.js') });
await build({
  ...common,
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  platform: 'node',
  outfile: path.join(out, 'cli', 'main.js'),
  // The server is not part of the client package; `trickle serve` says so when run from it.
  external: ['../../serve.js'],
});

const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.client-types.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
