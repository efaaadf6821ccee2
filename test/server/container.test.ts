/**
 * The container image: the repository's unchanged Containerfile, built and run with podman.
 * No container registry is reachable here, so scripts/container-base.sh first builds a local
 * stand-in for the base image (debootstrap --variant=minbase bookworm from the machine's
 * Debian mirror, imported with `podman import`, plus Node 24 and npm from the npm registry,
 * tagged docker.io/library/node:24-bookworm-slim); the build then runs with `--pull=never`.
 * The image is run as a user would: the HEALTHCHECK is in its configuration and passes, the
 * server runs as a user of its own, a file uploads in REST chunks and becomes a clip whose
 * renditions ffmpeg makes, SIGTERM stops it at once when idle and after SHUTDOWN_GRACE with an
 * upload stalled in flight, and a restart finds the clip in the volume.
 *
 * Cost: on a fresh machine about 4.5 minutes (debootstrap about 2, the image build about 2);
 * on a machine that ran it before, the root file system comes from ~/.cache/trickle/container
 * and the layers from podman's cache, so about 1.5 minutes, half of it the container's own
 * steps (a start takes 3 s on a quiet machine, 10 s and more on a loaded one). Needs root,
 * podman, runc and debootstrap (scripts/ci-apt.sh installs them); skipped otherwise. Every
 * step has a time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createAttachment, newUser, putRaw, request, sha1 } from '../helpers/client.js';
import { fixture } from '../helpers/media.js';
import { waitProcessed } from '../helpers/processing.js';
import { freePort } from '../helpers/server-process.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const IMAGE = 'localhost/trickle:test';
const BASE_IMAGE = 'docker.io/library/node:24-bookworm-slim';
const NAME = `trickle-test-${process.pid}`;
/**
 * Short, so that the stop with an upload in flight shows the grace without a long wait, yet
 * well above what podman's own commands take on a loaded machine (the idle stop must beat it).
 */
const SHUTDOWN_GRACE = 10;
/** What podman needs on this machine (its defaults fail here): runc, set limits, no systemd. */
const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(path.join(dir, program)));
}

function skipReason(): string | false {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the stand-in base image is built for Linux x64';
  if (process.getuid?.() !== 0) return 'podman and debootstrap run as root here (the rootless setup is not tested)';
  const missing = ['podman', 'runc', 'debootstrap'].filter((program) => !onPath(program));
  if (missing.length > 0) return `${missing.join(', ')} not installed (bash scripts/ci-apt.sh)`;
  return false;
}

interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a program to its end within `timeoutMs`; fails with its output otherwise. */
function run(program: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${program} ${args.join(' ')}: ${error.message}\n${stdout.slice(-4000)}${stderr.slice(-4000)}`));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * What npm needs to reach the registry from here, as build secrets (never in a layer): the
 * registry and proxies, and the certificate authorities this machine trusts besides Node's own
 * (npm's cafile, else NODE_EXTRA_CA_CERTS), which the build adds as NODE_EXTRA_CA_CERTS.
 */
async function npmSecrets(dir: string): Promise<string[]> {
  const setting = async (name: string) => {
    const value = (await run('npm', ['config', 'get', name], 30_000)).stdout.trim();
    return value === 'null' || value === 'undefined' ? '' : value;
  };
  const lines = [`registry=${await setting('registry')}`];
  for (const name of ['proxy', 'https-proxy', 'noproxy']) {
    const value = await setting(name);
    if (value) lines.push(`${name}=${value}`);
  }
  await writeFile(path.join(dir, 'build.npmrc'), lines.join('\n') + '\n');
  const args = ['--secret', `id=npmrc,src=${path.join(dir, 'build.npmrc')}`];
  const authorities = [await setting('cafile'), process.env.NODE_EXTRA_CA_CERTS ?? ''].find((file) => file && existsSync(file));
  if (authorities) args.push('--secret', `id=npm-ca,src=${authorities}`);
  return args;
}

const skip = skipReason();

describe('the container image (Containerfile) with podman', { skip }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let base: string;
  const podman = (args: string[], timeoutMs = 60_000) => run('podman', args, timeoutMs, env);

  /**
   * Starts (or restarts) the container; resolves the seconds from the command to /readyz 200,
   * and from the container's process start to the server's `Server listening` log line.
   */
  async function startAndWait(args: string[]): Promise<{ seconds: number; serverSeconds: number }> {
    const started = Date.now();
    await podman(args, 120_000);
    // Short attempts: until the container's network is up, a connection may hang rather than fail.
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      if (ready) {
        const seconds = (Date.now() - started) / 1000;
        const processStarted = Number((await podman(['inspect', '--format', '{{.State.StartedAt.UnixMilli}}', NAME])).stdout.trim());
        const listening = (await podman(['logs', NAME])).stdout.split('\n').findLast((line) => line.includes('"msg":"Server listening'));
        return { seconds, serverSeconds: ((JSON.parse(listening ?? '{}') as { time?: number }).time ?? NaN) / 1000 - processStarted / 1000 };
      }
      const state = (await podman(['inspect', '--format', '{{.State.Status}}', NAME])).stdout.trim();
      if (state !== 'running') break;
      await delay(100);
    }
    const logs = await podman(['logs', NAME]).then((r) => r.stdout + r.stderr, (error: Error) => error.message);
    assert.fail(`the container did not become ready; its output:\n${logs.slice(-8000)}`);
  }

  /**
   * SIGTERM to the container's PID 1; resolves its exit code, the seconds until podman saw it
   * exit, and the server's own seconds from its `stopping` log line to its `stopped` one.
   */
  async function stopWithSigterm(): Promise<{ exitCode: number; seconds: number; serverSeconds: number }> {
    const sent = Date.now();
    await podman(['kill', '--signal', 'SIGTERM', NAME]);
    const waited = await podman(['wait', NAME], (SHUTDOWN_GRACE + 15 + 30) * 1000);
    const seconds = (Date.now() - sent) / 1000;
    const lines = (await podman(['logs', NAME])).stdout.split('\n').filter((line) => line.startsWith('{'));
    const lastTime = (message: RegExp) => (JSON.parse(lines.findLast((line) => message.test(line)) ?? '{}') as { time?: number }).time ?? NaN;
    const serverSeconds = (lastTime(/"msg":"stopped"/) - lastTime(/"msg":"stopping: /)) / 1000;
    return { exitCode: Number(waited.stdout.trim()), seconds, serverSeconds };
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-container-'));
    await writeFile(path.join(dir, 'containers.conf'), CONTAINERS_CONF);
    env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf') };
    let started = Date.now();
    await run('bash', [path.join(ROOT, 'scripts', 'container-base.sh')], 15 * 60_000, env);
    console.log(`# stand-in base image ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    started = Date.now();
    const previous = await podman(['image', 'inspect', '--format', '{{.Id}}', IMAGE]).then((r) => r.stdout.trim(), () => '');
    const build = ['build', '--format', 'docker', '--pull=never', ...(await npmSecrets(dir)), '-t', IMAGE, '-f', path.join(ROOT, 'Containerfile'), ROOT];
    await podman(build, 20 * 60_000);
    const built = (await podman(['image', 'inspect', '--format', '{{.Id}}', IMAGE])).stdout.trim();
    // The image this tag named before is of no more use (its layers stay as long as they are shared).
    if (previous && previous !== built) await podman(['rmi', previous]).catch(() => undefined);
    const sizes = await Promise.all([IMAGE, BASE_IMAGE].map(async (image) => Number((await podman(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim())));
    const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
    console.log(`# image built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${mb(sizes[0]!)} MB, ${mb(sizes[0]! - sizes[1]!)} MB over the base (stand-in base ${mb(sizes[1]!)} MB)`);
    base = `http://127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    if (env) await podman(['rm', '--force', '--volumes', NAME]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('runs: HEALTHCHECK, its own user, chunks, a clip with renditions, SIGTERM, a restart on the volume', { timeout: 10 * 60_000 }, async () => {
    // What the image says about itself (the docker format keeps the HEALTHCHECK).
    const [image] = JSON.parse((await podman(['image', 'inspect', IMAGE])).stdout) as Array<{
      Healthcheck?: { Test: string[] };
      Config: { User: string; Volumes: Record<string, unknown>; StopSignal: string };
    }>;
    assert.deepEqual(image!.Healthcheck?.Test, ['CMD', 'node', 'scripts/container-healthcheck.mjs']);
    assert.equal(image!.Config.User, 'trickle');
    assert.equal(image!.Config.StopSignal, 'SIGTERM');
    assert.ok('/data' in image!.Config.Volumes, 'DATA_DIR is a volume');

    const port = new URL(base).port;
    const firstStart = await startAndWait(['run', '-d', '--name', NAME, '-p', `127.0.0.1:${port}:8080`, '-e', 'PASSWORD_HASH_LOG2N=10', '-e', `SHUTDOWN_GRACE=${SHUTDOWN_GRACE}`, IMAGE]);
    console.log(`# podman run to /readyz 200: ${firstStart.seconds.toFixed(1)} s (the container's process start to listening: ${firstStart.serverSeconds.toFixed(1)} s)`);
    await podman(['healthcheck', 'run', NAME]); // exits non-zero when unhealthy
    const identity = (await podman(['exec', NAME, 'sh', '-c', 'id -u; touch /data/.writable && echo data-writable; touch /app/x 2>/dev/null || echo app-read-only'])).stdout.split('\n');
    assert.deepEqual(identity.slice(0, 3), ['10001', 'data-writable', 'app-read-only']);

    // A file in REST chunks, out of order, then a clip of it, processed by the image's ffmpeg.
    const { token } = await newUser(base, 'container');
    const audio = fixture('tone.m4a');
    const id = await createAttachment(base, token, audio.length, 'tone.m4a');
    const half = Math.ceil(audio.length / 2);
    assert.equal((await putRaw(base, token, id, half, audio.subarray(half))).status, 200);
    const done = await putRaw(base, token, id, 0, audio.subarray(0, half));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.body.attachment.state, 'complete');
    assert.equal(done.json.body.attachment.sha1, sha1(audio));
    assert.equal(done.json.body.attachment.content_type, 'audio/mp4');
    const created = await request(base, 'POST', '/audio_clips', { token, json: { audio_clip: { title: 'in a container', uploaded_data: { chunked_attachment_id: id, fingerprint: sha1(audio) } } } });
    assert.equal(created.status, 201, created.text);
    const clipId = created.json.body.audio_clip.id as number;
    const clip = await waitProcessed(base, `/audio_clips/${clipId}`, token, 120_000);
    assert.equal(clip.processing, 'ready', JSON.stringify(clip));
    const mp3 = await fetch(base + clip.urls.high_mp3);
    assert.equal(mp3.status, 200);
    assert.equal(mp3.headers.get('content-type'), 'audio/mpeg');
    await mp3.arrayBuffer();

    // SIGTERM with nothing in flight: PID 1 (node) handles it and exits 0 at once.
    const idle = await stopWithSigterm();
    console.log(`# SIGTERM to exit, idle: ${idle.seconds.toFixed(1)} s (the server's own: ${idle.serverSeconds.toFixed(2)} s)`);
    assert.equal(idle.exitCode, 0);
    assert.ok(idle.serverSeconds < SHUTDOWN_GRACE / 2, `the idle server took ${idle.serverSeconds} s from stopping to stopped`);
    assert.ok(idle.seconds < SHUTDOWN_GRACE, `an idle server took ${idle.seconds} s to stop`);

    // Started again on the same volume: the clip is there, byte-exact.
    const secondStart = await startAndWait(['start', NAME]);
    console.log(`# podman start to /readyz 200: ${secondStart.seconds.toFixed(1)} s (the container's process start to listening: ${secondStart.serverSeconds.toFixed(1)} s)`);
    const download = await fetch(`${base}/audio_clips/${clipId}/audio`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(audio), 'the clip survives a restart in the volume');

    // SIGTERM with a chunk stalled half-way: the server waits SHUTDOWN_GRACE for it, then cuts it and exits.
    const stalledId = await createAttachment(base, token, 1024 * 1024);
    const stalled = httpRequest(`${base}/attachments/${stalledId}?attachment%5Bchunk_offset%5D=0`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(1024 * 1024) },
    });
    const stalledEnded = new Promise<void>((resolve) => {
      stalled.on('response', (res) => res.resume().on('end', resolve).on('error', () => resolve()));
      stalled.on('error', () => resolve());
    });
    stalled.write(Buffer.alloc(64 * 1024, 1));
    await delay(500);
    const busy = await stopWithSigterm();
    console.log(`# SIGTERM to exit, one upload stalled in flight: ${busy.seconds.toFixed(1)} s (the server's own: ${busy.serverSeconds.toFixed(2)} s; SHUTDOWN_GRACE=${SHUTDOWN_GRACE})`);
    await Promise.race([stalledEnded, delay(10_000)]);
    assert.equal(busy.exitCode, 0);
    assert.ok(busy.serverSeconds >= SHUTDOWN_GRACE - 0.5 && busy.seconds < SHUTDOWN_GRACE + 15, `stopped after ${busy.seconds} s (the server's own: ${busy.serverSeconds} s)`);
    const logs = (await podman(['logs', NAME])).stdout;
    assert.match(logs, /grace period over/);
  });
});
