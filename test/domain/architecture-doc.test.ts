/** docs/architecture.md stays true: every file it names exists, and it names the engine's modules. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(import.meta.dirname, '..', '..');
const DOC = readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');

test('every file docs/architecture.md names exists', () => {
  const named = [...DOC.matchAll(/`((?:src|test|docs)\/[A-Za-z0-9_./-]+\.(?:ts|md|mjs|js))`/g)].map((m) => m[1]!);
  assert.ok(named.length > 20, `only ${named.length} files named`);
  const missing = named.filter((file) => !existsSync(path.join(ROOT, file)));
  assert.deepEqual(missing, [], 'named in docs/architecture.md but not in the tree');
});

test('docs/architecture.md names every module of the attachments domain', () => {
  const modules = ['attachment-service', 'chunk-receiver', 'commit-plan', 'in-place-receiver', 'piece-receiver', 'ranges', 'region-locks', 'upload-bytes', 'upload-engine', 'upload-state'];
  const unnamed = modules.filter((name) => !DOC.includes(`src/domain/attachments/${name}.ts`));
  assert.deepEqual(unnamed, []);
});

test('docs/architecture.md names the ports.ts of every domain area', () => {
  const domain = path.join(ROOT, 'src', 'domain');
  const areas = readdirSync(domain, { withFileTypes: true }).filter((entry) => entry.isDirectory() && existsSync(path.join(domain, entry.name, 'ports.ts')));
  assert.ok(areas.length >= 8, `only ${areas.length} areas with ports`);
  const unnamed = areas.map((entry) => `src/domain/${entry.name}/ports.ts`).filter((file) => !DOC.includes(file));
  assert.deepEqual(unnamed, []);
  assert.ok(!existsSync(path.join(domain, 'ports.ts')), 'ports live beside their areas, not in one src/domain/ports.ts');
});
