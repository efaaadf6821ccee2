#!/usr/bin/env node
// The build: every src/**/*.ts becomes the .js file at the same path in dist/, by Node's own
// type stripping (node:module stripTypeScriptTypes). It needs nothing from node_modules, so a
// production install (`npm ci --omit=dev`, no TypeScript) builds and serves. Types are blanked
// out in place, so lines and columns stay those of the sources: stack traces point into src/
// without source maps. The sources keep to TypeScript that can be erased (tsconfig.json's
// erasableSyntaxOnly); `npm run typecheck` checks the types.
//
//   node scripts/build.mjs               build dist/ (`npm run build`; `npm ci` runs it at `prepare`)
//   node scripts/build.mjs --if-stale    only when a source is newer than the last build (`npm start`)
//   node scripts/build.mjs --out DIR     build into DIR instead (benchmarks)
import { stripTypeScriptTypes } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.join(import.meta.dirname, '..');
const SOURCE_DIR = path.join(ROOT, 'src');
/** Besides src/, what changes the build: package.json (`"type": "module"`). */
const INPUTS = [SOURCE_DIR, path.join(ROOT, 'package.json')];

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

function newestMtime(entry) {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce((newest, name) => Math.max(newest, newestMtime(path.join(entry, name))), stat.mtimeMs);
}

/** Writes through a temporary name: a process reading the build never sees half a file. */
function writeWhole(file, text) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** Removes what this build did not write (outputs of deleted sources), but not dot files. */
function prune(dir, written) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      prune(full, written);
      if (readdirSync(full).length === 0) rmSync(full, { recursive: true });
    } else if (!written.has(full) && !name.startsWith('.')) rmSync(full);
  }
}

function build(outDir) {
  const written = new Set();
  for (const source of sourceFiles(SOURCE_DIR)) {
    const target = path.join(outDir, path.relative(SOURCE_DIR, source)).replace(/\.ts$/, '.js');
    let code;
    try {
      code = stripTypeScriptTypes(readFileSync(source, 'utf8'), { mode: 'strip' });
    } catch (error) {
      throw new Error(`${path.relative(ROOT, source)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    mkdirSync(path.dirname(target), { recursive: true });
    writeWhole(target, code);
    written.add(target);
  }
  prune(outDir, written);
}

const { values: options } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, out: { type: 'string' } } });
const outDir = path.resolve(options.out ?? path.join(ROOT, 'dist'));
const stamp = path.join(outDir, '.build-stamp');
const stale = !options['if-stale'] || !existsSync(stamp) || Math.max(...INPUTS.map(newestMtime)) > statSync(stamp).mtimeMs;
if (stale) {
  if (options['if-stale']) process.stderr.write('trickle: sources changed since the last build; building…\n');
  try {
    build(outDir);
  } catch (error) {
    process.stderr.write(`trickle: the build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  writeFileSync(stamp, new Date().toISOString() + '\n');
}
