/** The README's configuration table lists every setting with its default, as `--help` does. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configDefaults, configHelp } from '../../src/config.js';

const README = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

test('README lists every setting with its flag and default, and nothing else', () => {
  const rows = new Map<string, { flag: string; fallback: string }>();
  for (const match of README.matchAll(/^\| `(--[a-z0-9-]+)` \| `([A-Z0-9_]+)` \| ([^|]*) \|/gm)) {
    rows.set(match[2]!, { flag: match[1]!, fallback: match[3]!.trim().replace(/`/g, '') });
  }
  const settings = configDefaults();
  assert.deepEqual([...rows.keys()].sort(), settings.map((s) => s.env).sort(), 'the README table and the settings differ');
  for (const setting of settings) {
    const row = rows.get(setting.env)!;
    assert.equal(row.flag, setting.flag, setting.env);
    // The database default depends on DATA_DIR; the README says so in words.
    if (setting.env !== 'DATABASE_URL') assert.equal(row.fallback, setting.fallback, `${setting.env}'s default`);
  }
});

test('--help shows every setting with its default', () => {
  const help = configHelp();
  for (const setting of configDefaults()) assert.ok(help.includes(`${setting.env}`) && help.includes(`(default: ${setting.fallback})`), setting.env);
});
