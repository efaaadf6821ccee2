#!/usr/bin/env node
// The build: every src/**/*.ts becomes the .js file at the same path in dist/, by Node's own
// type stripping (node:module stripTypeScriptTypes). It needs nothing from node_modules, so a
// production install (`npm ci --omit=dev`, no TypeScript) builds and serves. Types are blanked
// out in place, so lines and columns stay those of the sources: stack traces point into src/
// without source maps. The sources keep to TypeScript that can be erased (tsconfig.json's
// erasableSyntaxOnly); `npm run typecheck` checks the types.
//
// Where esbuild is installed (a development install; the container's build stage), two of the
// packages the server loads at start are also bundled, each into one file under dist/vendor/, and
// the built files import them from there. Both ship as a few hundred ES modules, which Node links
// one by one: at start that cost about 0.2 s and 7 MiB of RSS (docs/benchmarks.md, "Start time").
// Without esbuild (`npm ci --omit=dev`), the built files import the packages as they are.
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
/**
 * The bundles under dist/vendor/: for each package, its file and the import specifiers it stands
 * for. One file per package, holding every entry point the sources import, so that no module
 * state (TypeBox's format registry, Kysely's classes) exists twice.
 */
const VENDOR_BUNDLES = [
  { packageName: 'kysely', file: 'kysely.js', specifiers: ['kysely', 'kysely/migration'] },
  { packageName: '@sinclair/typebox', file: 'typebox.js', specifiers: ['@sinclair/typebox', '@sinclair/typebox/compiler'] },
];
/** Besides src/, what changes the build: package.json (`"type": "module"`) and the bundled packages' versions. */
const INPUTS = [SOURCE_DIR, path.join(ROOT, 'package.json'), ...VENDOR_BUNDLES.map(({ packageName }) => path.join(ROOT, 'node_modules', packageName, 'package.json'))].filter(
  (input) => existsSync(input),
);

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

/** esbuild's API where it is installed, else null. */
async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch {
    return null;
  }
}

/** Bundles each of VENDOR_BUNDLES into outDir/vendor/; returns the specifiers now served from there. */
async function bundleVendors(esbuild, outDir, written) {
  const served = new Map();
  for (const { file, specifiers } of VENDOR_BUNDLES) {
    const target = path.join(outDir, 'vendor', file);
    const temporary = `${target}.${process.pid}.tmp`;
    mkdirSync(path.dirname(target), { recursive: true });
    await esbuild.build({
      stdin: { contents: specifiers.map((specifier) => `export * from '${specifier}';`).join('\n'), resolveDir: ROOT, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      outfile: temporary,
      logLevel: 'warning',
      legalComments: 'inline',
    });
    renameSync(temporary, target);
    written.add(target);
    for (const specifier of specifiers) served.set(specifier, target);
  }
  return served;
}

/** `from 'kysely'` and `import('kysely')` become imports of the bundle, relative to the importing file. */
function importFromVendor(code, target, served) {
  if (served.size === 0) return code;
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g, (whole, keyword, quote, specifier) => {
    const bundle = served.get(specifier);
    if (!bundle) return whole;
    const relative = path.relative(path.dirname(target), bundle).split(path.sep).join('/');
    return `${keyword}${quote}${relative.startsWith('.') ? relative : `./${relative}`}${quote}`;
  });
}

async function build(outDir) {
  const written = new Set();
  const esbuild = await loadEsbuild();
  let served = new Map();
  try {
    if (esbuild) served = await bundleVendors(esbuild, outDir, written);
  } catch (error) {
    // An esbuild that cannot run here (another platform's binary) costs the start time, not the build.
    process.stderr.write(`trickle: bundling skipped, the packages are imported as installed: ${error instanceof Error ? error.message : String(error)}\n`);
    served = new Map();
    // A bundle written before the failure would go unused: left for prune() to remove.
    for (const file of written) if (path.dirname(file) === path.join(outDir, 'vendor')) written.delete(file);
  }
  for (const source of sourceFiles(SOURCE_DIR)) {
    const target = path.join(outDir, path.relative(SOURCE_DIR, source)).replace(/\.ts$/, '.js');
    let code;
    try {
      code = stripTypeScriptTypes(readFileSync(source, 'utf8'), { mode: 'strip' });
    } catch (error) {
      throw new Error(`${path.relative(ROOT, source)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    mkdirSync(path.dirname(target), { recursive: true });
    writeWhole(target, importFromVendor(code, target, served));
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
    await build(outDir);
  } catch (error) {
    process.stderr.write(`trickle: the build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  writeFileSync(stamp, new Date().toISOString() + '\n');
}
