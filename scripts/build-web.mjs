#!/usr/bin/env node
// Bundles the portable SDK (src/client/index.ts) for browsers into dist/web/trickle-client.js,
// the one file the web app (web/) needs beyond its own plain ES modules. Run by the build
// (`npm ci` builds at `prepare`, `npm start` when sources changed).
import { build } from 'esbuild';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
await build({
  entryPoints: [path.join(root, 'src', 'client', 'index.ts')],
  outfile: path.join(root, 'dist', 'web', 'trickle-client.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
