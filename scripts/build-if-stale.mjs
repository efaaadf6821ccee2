#!/usr/bin/env node
// `npm start` runs this first: it compiles src/ to dist/ only when a source file (or the
// TypeScript config) is newer than the last build, so a start after `npm ci` (which builds at
// `prepare`) takes about a second instead of a full compile.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const STAMP = path.join('dist', '.build-stamp');

function newestMtime(entry) {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce((newest, name) => Math.max(newest, newestMtime(path.join(entry, name))), stat.mtimeMs);
}

const sources = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
const stale = process.argv.includes('--force') || !existsSync(STAMP) || Math.max(...sources.map(newestMtime)) > statSync(STAMP).mtimeMs;
if (stale) {
  if (!process.argv.includes('--force')) process.stderr.write('trickle: sources changed since the last build; compiling…\n');
  const result = spawnSync(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  // The SDK bundled for the web app's browsers (dist/web/trickle-client.js).
  const web = spawnSync(process.execPath, [path.join('scripts', 'build-web.mjs')], { stdio: 'inherit' });
  if (web.status !== 0) process.exit(web.status ?? 1);
  writeFileSync(STAMP, new Date().toISOString() + '\n');
}
