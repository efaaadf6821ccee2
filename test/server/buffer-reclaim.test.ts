/**
 * Dead socket buffers are freed once they add up to the reclaimer's step (src/buffer-reclaim.ts;
 * 16 MiB in the server), not only at V8's own 64 MiB of external growth. Each run is a fresh
 * process (buffer-reclaim-child.ts), so V8's own heuristics start alike: it reads 96 MiB from a
 * loopback socket at an upload's pace, dropping each piece at once as a chunk's body is written
 * and let go, and reports the peak of live array buffers. Without the reclaimer most of V8's
 * 64 MiB pile up; with it (an 8 MiB step here) about the step and what the sweeper has not
 * freed yet.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';

const MiB = 1024 * 1024;
const CHILD = path.join(import.meta.dirname, 'buffer-reclaim-child.ts');

async function peakOf(mode: 'with' | 'without'): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD, mode], { encoding: 'utf8', timeout: 60_000 });
  const { bytes, peak } = JSON.parse(stdout) as { bytes: number; peak: number };
  assert.equal(bytes, 96 * MiB);
  return peak;
}

test('dead socket buffers pile up to V8s slack without the reclaimer, to about its step with it', async (t) => {
  const without = await peakOf('without');
  const withIt = await peakOf('with');
  t.diagnostic(`peak of dead buffers: ${(without / MiB).toFixed(1)} MiB without, ${(withIt / MiB).toFixed(1)} MiB with the reclaimer`);
  assert.ok(without >= 40 * MiB, `without the reclaimer only ${(without / MiB).toFixed(1)} MiB piled up: V8 freed them itself, the test shows nothing`);
  assert.ok(withIt <= 0.6 * without, `${(withIt / MiB).toFixed(1)} MiB piled up with the reclaimer (step 8 MiB), ${(without / MiB).toFixed(1)} without`);
});
