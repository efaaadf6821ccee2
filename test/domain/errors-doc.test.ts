/** The error table in docs/api.md is the one the server answers with. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ERROR_TABLE } from '../../src/domain/errors.js';

test('docs/api.md lists every error name with its code and status, and nothing else', async () => {
  const doc = await readFile('docs/api.md', 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d+) \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
  const expected = Object.entries(ERROR_TABLE).map(([name, e]) => [name, e.code, e.status]);
  assert.deepEqual(rows, expected);
  const codes = Object.values(ERROR_TABLE).map((e) => e.code);
  assert.equal(new Set(codes).size, codes.length, 'error codes must be unique');
});
