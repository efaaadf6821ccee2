/**
 * The `trickle` command line as a user runs it: a real process against a real server, through
 * the fault proxy where the network matters. The kill test stops the CLI with SIGKILL midway
 * through a 100 MiB upload and checks that running it again re-sends only a small part.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TrickleApiError, TrickleNetworkError } from '../../src/client/node.js';
import { jobFailedForGood } from '../../src/cli/commands/upload.js';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request, sha1 } from '../helpers/client.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { fixture, FIXTURES, wavHeader } from '../helpers/media.js';
import { startServer, type TestServer } from '../helpers/server.js';

const CLI = path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const MiB = 1024 * 1024;
// Resolved here, as the CLI runs in a scratch folder where `tsx` alone would not be found.
const TSX = import.meta.resolve('tsx');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `stdin`: written and closed at once; null leaves standard input open for the caller to write. */
function startCli(args: string[], env: Record<string, string>, stdin: string | null = ''): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { env: { ...process.env, ...env }, cwd: env.CWD ?? process.cwd() });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  if (stdin !== null) child.stdin?.end(stdin);
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const cli = (args: string[], env: Record<string, string>, stdin = '') => startCli(args, env, stdin).done;

/** util-linux `script` runs a command on a pseudo-terminal: the CLI sees a TTY, as a person's shell gives it. */
const scriptMissing = spawnSync('script', ['--version']).status === 0 ? false : 'util-linux script is not installed: it gives the CLI a terminal';

/** Runs the CLI on a terminal, typing `typed` into it; the terminal's output comes back as stdout. */
function ttyCli(args: string[], env: Record<string, string>, typed: string): Promise<Run> {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, '--import', TSX, CLI, ...args].map(quote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], { env: { ...process.env, ...env }, cwd: env.CWD ?? process.cwd() });
  let stdout = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
    // Answer once the question is on the screen.
    if (typed && /\[y\/N\]/.test(stdout)) {
      child.stdin.write(typed);
      typed = '';
    }
  });
  child.stderr.on('data', (data: Buffer) => (stdout += data.toString()));
  return new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr: '' })));
}

function audioFile(size: number): Buffer {
  return Buffer.concat([wavHeader(size - 44), randomBytes(size - 44)]);
}

/** The attachment id the CLI's job record holds, once it has one. */
async function jobAttachment(configDir: string): Promise<number | null> {
  const dir = path.join(configDir, 'uploads');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const record = JSON.parse(await readFile(path.join(dir, name), 'utf8').catch(() => '{}')) as { value?: { audioAttachmentId?: number } };
    if (record.value?.audioAttachmentId !== undefined) return record.value.audioAttachmentId;
  }
  return null;
}

const [sqlite] = databaseKinds();

describe('the trickle CLI', () => {
  let server: TestServer;
  let workDir: string;
  let env: Record<string, string>;

  before(async () => {
    server = await startServer(sqlite!, { maxOpenAttachments: 1000 });
    workDir = await mkdtemp(path.join(os.tmpdir(), 'trickle-cli-'));
    env = { TRICKLE_CONFIG_DIR: path.join(workDir, 'config'), TRICKLE_SERVER: server.url, TRICKLE_TOKEN: '', CWD: workDir };
  });
  after(async () => {
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  });

  test('register, log in, upload a clip and a message, list them, download', async () => {
    const bob = await newUser(server.url, 'cli_bob');
    const registered = await cli(['register', 'cli_alice', '--email', 'alice@example.com'], env, 'alice-password\n');
    assert.equal(registered.code, 0, registered.stderr);
    const config = JSON.parse(await readFile(path.join(env.TRICKLE_CONFIG_DIR!, 'config.json'), 'utf8')) as { token: string; server: string };
    assert.equal(config.server, server.url);

    const wrong = await cli(['login', 'cli_alice'], env, 'not-the-password\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr.trim(), /^trickle: .*invalid_grant/);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal((await cli(['login', 'cli_alice'], env, 'alice-password\n')).code, 0);

    const clipRun = await cli(['upload', path.join(FIXTURES, 'tone.flac'), '--title', 'From the CLI', '--tag', 'cli', '--image', path.join(FIXTURES, 'cover.png'), '--json'], env);
    assert.equal(clipRun.code, 0, clipRun.stderr);
    const clip = (JSON.parse(clipRun.stdout) as { audio_clip: { id: number; title: string; tags: string[]; audio: { sha1: string }; image: unknown } }).audio_clip;
    assert.equal(clip.title, 'From the CLI');
    assert.deepEqual(clip.tags, ['cli']);
    assert.equal(clip.audio.sha1, sha1(fixture('tone.flac')));
    assert.notEqual(clip.image, null);

    const messageRun = await cli(['upload', path.join(FIXTURES, 'tone.mp3'), '--to', bob.username, '--title', 'hi bob', '--json'], env);
    assert.equal(messageRun.code, 0, messageRun.stderr);
    const message = (JSON.parse(messageRun.stdout) as { message: { id: number; recipient: { id: number } } }).message;
    assert.equal(message.recipient.id, bob.id);

    const mine = JSON.parse((await cli(['clips', '--mine', '--json'], env)).stdout) as { audio_clips: Array<{ id: number }> };
    assert.deepEqual(mine.audio_clips.map((c) => c.id), [clip.id]);
    const listing = await cli(['clips'], env);
    assert.match(listing.stdout, /From the CLI/);

    const bobEnv = { ...env, TRICKLE_TOKEN: bob.token };
    const inbox = JSON.parse((await cli(['inbox', '--json'], bobEnv)).stdout) as { messages: Array<{ id: number; title: string }> };
    assert.deepEqual(inbox.messages.map((m) => [m.id, m.title]), [[message.id, 'hi bob']]);

    const saved = await cli(['download', String(message.id), '--message', '-o', 'heard.mp3', '--json'], bobEnv);
    assert.equal(saved.code, 0, saved.stderr);
    assert.deepEqual(await readFile(path.join(workDir, 'heard.mp3')), fixture('tone.mp3'));
    const clipDownload = await cli(['download', String(clip.id)], env);
    assert.equal(clipDownload.code, 0, clipDownload.stderr);
    assert.deepEqual(await readFile(path.join(workDir, 'tone.flac')), fixture('tone.flac'));
  });

  test('upload - sends standard input as it arrives, the size fixed when it ends', async () => {
    const wav = fixture('tone.wav');
    const { child, done } = startCli(['upload', '-', '--title', 'From a pipe', '--json'], env, null);
    // Like a recorder: the bytes come in pieces, with pauses.
    const step = Math.ceil(wav.length / 4);
    for (let at = 0; at < wav.length; at += step) {
      child.stdin!.write(wav.subarray(at, at + step));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    child.stdin!.end();
    const run = await done;
    assert.equal(run.code, 0, run.stderr);
    const clip = (JSON.parse(run.stdout) as { audio_clip: { title: string; duration: number; audio: { sha1: string; size: number } } }).audio_clip;
    assert.equal(clip.title, 'From a pipe');
    assert.equal(clip.audio.size, wav.length);
    assert.equal(clip.audio.sha1, sha1(wav));
    assert.ok(Math.abs(clip.duration - 1) < 0.05, `lasts ${clip.duration} s`);
  });

  test('bad command lines exit 2, failures exit 1, each with one line', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['frobnicate'], 2, /unknown command/],
      [['clips', '--frob'], 2, /Unknown option/],
      [['upload'], 2, /needs a FILE/],
      [['upload', 'x.wav'], 2, /needs --title/],
      [['clips', '--page', '0'], 2, /--page must be a positive integer/],
      [['download', '999999'], 1, /not_found/],
      [['download', '999999', '--message'], 1, /invalid_token/],
      [['upload', path.join(workDir, 'missing.wav'), '--title', 't', '--token', 'x'], 1, /ENOENT|no such file/],
      [['inbox', '--server', 'ftp://example.com'], 2, /--server must be/],
      [['inbox', '--server', 'http://127.0.0.1:9'], 1, /cannot reach the server/],
    ];
    for (const [args, code, message] of cases) {
      const run = await cli(args, { ...env, TRICKLE_TOKEN: 'x'.repeat(43) });
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${run.stderr}`);
    }
    const anonymous = await cli(['download', '999999'], { ...env, TRICKLE_TOKEN: '' });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /^trickle: .*\[not_found, HTTP 404\]\n$/);
    const help = await cli(['--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /upload +upload an audio file/);
    assert.match(help.stdout, /outbox +list the voice messages you sent/);
  });

  test('with --json, errors are one JSON object on stderr, with the same exit statuses', async () => {
    const cases: Array<[string[], number, { name: string; status: number | null; code: 'number' | null }]> = [
      [['frobnicate'], 2, { name: 'usage', status: null, code: null }],
      [['clips', '--page', '0'], 2, { name: 'usage', status: null, code: null }],
      [['download', '999999'], 1, { name: 'not_found', status: 404, code: 'number' }],
      [['download', '999999', '--message'], 1, { name: 'invalid_token', status: 401, code: 'number' }],
      [['upload', path.join(workDir, 'missing.wav'), '--title', 't'], 1, { name: 'file', status: null, code: null }],
      [['inbox', '--server', 'http://127.0.0.1:9'], 1, { name: 'network', status: null, code: null }],
    ];
    for (const [args, exit, expected] of cases) {
      const run = await cli([...args, '--json'], { ...env, TRICKLE_TOKEN: 'x'.repeat(43) });
      const what = `${args.join(' ')}: ${run.stderr}`;
      assert.equal(run.code, exit, what);
      assert.equal(run.stdout, '', what);
      assert.equal(run.stderr.trim().split('\n').length, 1, what);
      const { error } = JSON.parse(run.stderr) as { error: { name: string; code: number | null; status: number | null; description: string; details: unknown } };
      assert.deepEqual(Object.keys(error), ['name', 'code', 'status', 'description', 'details'], what);
      assert.equal(error.name, expected.name, what);
      assert.equal(error.status, expected.status, what);
      assert.equal(expected.code === null ? error.code : typeof error.code, expected.code, what);
      assert.ok(error.description.length > 0, what);
    }
  });

  test('lists say whether there is another page; outbox lists the messages sent', async () => {
    const alice = await newUser(server.url, 'cli_pages_a');
    const bob = await newUser(server.url, 'cli_pages_b');
    const audio = fixture('tone.mp3');
    for (let i = 1; i <= 3; i += 1) {
      const clip = await request(server.url, 'POST', '/audio_clips', { token: alice.token, multipart: [['audio_clip[title]', `page clip ${i}`], ['audio_clip[uploaded_data]', audio, 'tone.mp3']] });
      assert.equal(clip.status, 201, clip.text);
    }
    for (let i = 1; i <= 2; i += 1) {
      const sent = await request(server.url, 'POST', '/account/outbox', {
        token: alice.token,
        multipart: [['message[recipient_id]', String(bob.id)], ['message[title]', `note ${i}`], ['message[uploaded_data]', audio, 'tone.mp3']],
      });
      assert.equal(sent.status, 201, sent.text);
    }
    const aliceEnv = { ...env, TRICKLE_TOKEN: alice.token };
    const json = async (args: string[], runEnv = aliceEnv) => {
      const run = await cli([...args, '--json'], runEnv);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as { audio_clips?: Array<{ title: string }>; messages?: Array<{ title: string; recipient: { id: number } }>; page: number; next_page: number | null };
    };

    const user = ['clips', '--user', String(alice.id)];
    const first = await json([...user, '--items', '2']);
    assert.deepEqual(first.audio_clips!.map((c) => c.title), ['page clip 3', 'page clip 2']);
    assert.deepEqual([first.page, first.next_page], [1, 2]);
    const last = await json([...user, '--items', '2', '--page', '2']);
    assert.deepEqual(last.audio_clips!.map((c) => c.title), ['page clip 1']);
    assert.equal(last.next_page, null);
    // A full page that is also the last.
    assert.equal((await json([...user, '--items', '3'])).next_page, null);
    assert.equal((await json([...user])).next_page, null);

    const text = await cli([...user, '--items', '2'], aliceEnv);
    assert.match(text.stdout, /page clip 2 .*\nmore: run with --page 2 --items 2\n$/);
    assert.doesNotMatch((await cli([...user, '--items', '3'], aliceEnv)).stdout, /more:/);
    assert.match((await cli(['clips', '--items', '151'], aliceEnv)).stderr, /--items must be at most 150/);

    const outbox = await json(['outbox']);
    assert.deepEqual(outbox.messages!.map((m) => [m.title, m.recipient.id]), [['note 2', bob.id], ['note 1', bob.id]]);
    assert.equal(outbox.next_page, null);
    assert.deepEqual((await json(['outbox', '--items', '1'])).next_page, 2);
    const outboxText = await cli(['outbox', '--items', '1', '--page', '2'], aliceEnv);
    assert.match(outboxText.stdout, /^ID +TO +TITLE +LENGTH +PLAYED +SENT\n\d+ +cli_pages_b\S* +note 1 /);
    assert.doesNotMatch(outboxText.stdout, /more:/);
    const inbox = await json(['inbox', '--items', '1'], { ...env, TRICKLE_TOKEN: bob.token });
    assert.deepEqual([inbox.messages!.map((m) => m.title), inbox.next_page], [['note 2'], 2]);
    assert.match((await cli(['inbox', '--items', '1'], { ...env, TRICKLE_TOKEN: bob.token })).stdout, /more: run with --page 2 --items 1\n$/);
    assert.equal((await json(['outbox'], { ...env, TRICKLE_TOKEN: bob.token })).messages!.length, 0);
  });

  test('download never overwrites a file unasked: refuses without a terminal, asks on one, --force overwrites', async (t) => {
    const user = await newUser(server.url, 'cli_overwrite');
    const made = await request(server.url, 'POST', '/audio_clips', { token: user.token, multipart: [['audio_clip[title]', 'overwrite me'], ['audio_clip[uploaded_data]', fixture('tone.mp3'), 'tone.mp3']] });
    const id = String(made.json.body.audio_clip.id);
    const target = path.join(workDir, 'existing.mp3');
    const mine = Buffer.from('my own recording, not to be lost');
    await writeFile(target, mine);

    const refused = await cli(['download', id, '-o', 'existing.mp3'], env);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^trickle: existing\.mp3 exists; not overwriting it without --force\n$/);
    assert.deepEqual(await readFile(target), mine);
    const refusedJson = await cli(['download', id, '-o', 'existing.mp3', '--json'], env);
    assert.equal(refusedJson.code, 1);
    assert.match((JSON.parse(refusedJson.stderr) as { error: { description: string } }).error.description, /without --force/);
    assert.deepEqual(await readFile(target), mine);

    if (scriptMissing) t.diagnostic(`terminal cases skipped: ${scriptMissing}`);
    else {
      const declined = await ttyCli(['download', id, '-o', 'existing.mp3'], env, 'n\r');
      assert.equal(declined.code, 1, declined.stdout);
      assert.match(declined.stdout, /existing\.mp3 exists\. Overwrite it\? \[y\/N\]/);
      assert.match(declined.stdout, /left it as it was/);
      assert.deepEqual(await readFile(target), mine);
      const accepted = await ttyCli(['download', id, '-o', 'existing.mp3'], env, 'y\r');
      assert.equal(accepted.code, 0, accepted.stdout);
      assert.deepEqual(await readFile(target), fixture('tone.mp3'));
      await writeFile(target, mine);
    }

    for (const flag of ['--force', '-f']) {
      const forced = await cli(['download', id, '-o', 'existing.mp3', flag], env);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(await readFile(target), fixture('tone.mp3'));
      await writeFile(target, mine);
    }
    await rm(target);
  });

  test('an upload the server refuses for good is forgotten; what may pass is kept', async () => {
    const user = await newUser(server.url, 'cli_refused');
    const refusedEnv = { ...env, TRICKLE_CONFIG_DIR: path.join(workDir, 'refused-config'), TRICKLE_TOKEN: user.token };
    // Bytes that are no audio: uploaded in full, then refused by the clip's create.
    const file = path.join(workDir, 'not-audio.wav');
    await writeFile(file, randomBytes(300 * 1024));
    try {
      for (let run = 1; run <= 2; run += 1) {
        const refused = await cli(['upload', file, '--title', 'Noise'], refusedEnv);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, /^trickle: .*\[unsupported_audio, HTTP 422\]\n$/, `run ${run}`);
        // Each run starts afresh: nothing to resume.
        assert.doesNotMatch(refused.stderr, /Resuming/, `run ${run}`);
        assert.deepEqual(await readdir(path.join(refusedEnv.TRICKLE_CONFIG_DIR, 'uploads')), [], 'no job record left');
      }
    } finally {
      await rm(file, { force: true });
    }
    const api = (status: number, name = 'some_error') => new TrickleApiError(status, name as 'not_found', 'x');
    for (const status of [400, 404, 409, 410, 413, 415, 422]) assert.equal(jobFailedForGood(api(status)), true, String(status));
    for (const status of [401, 403, 408, 429, 500, 502, 503, 507]) assert.equal(jobFailedForGood(api(status)), false, String(status));
    assert.equal(jobFailedForGood(new TrickleNetworkError('reset')), false);
    assert.equal(jobFailedForGood(new Error('interrupted')), false);
  });


  test('killed midway through a 100 MiB upload, the same command finishes it and re-sends little', async (t) => {
    const user = await newUser(server.url, 'cli_kill');
    const data = audioFile(100 * MiB);
    const file = path.join(workDir, 'long-recording.wav');
    await writeFile(file, data);
    // A 40 MiB/s link: the first run takes long enough to be killed midway.
    const proxy = await FaultProxy.start(server.url, { throttleBytesPerSecond: 40 * MiB });
    const killEnv = { ...env, TRICKLE_CONFIG_DIR: path.join(workDir, 'kill-config'), TRICKLE_SERVER: proxy.url, TRICKLE_TOKEN: user.token };
    const args = ['upload', file, '--title', 'Long recording', '--json'];
    try {
      const first = startCli(args, killEnv);
      let receivedAtKill = 0;
      for (let poll = 0; poll < 600 && receivedAtKill < 40 * MiB; poll += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const id = await jobAttachment(killEnv.TRICKLE_CONFIG_DIR);
        if (id === null) continue;
        const status = await request(server.url, 'GET', `/attachments/${id}`, { token: user.token });
        receivedAtKill = status.json?.body?.attachment?.received_bytes ?? 0;
      }
      assert.ok(receivedAtKill >= 40 * MiB, `the first run got to ${receivedAtKill} bytes`);
      first.child.kill('SIGKILL');
      const killed = await first.done;
      assert.equal(killed.signal, 'SIGKILL');
      const upAtKill = proxy.stats.bytesUp;
      const id = await jobAttachment(killEnv.TRICKLE_CONFIG_DIR);
      // The server records the cut-off chunks' prefixes as it notices the connections end.
      let held = (await request(server.url, 'GET', `/attachments/${id}`, { token: user.token })).json.body.attachment;
      for (let poll = 0; poll < 40; poll += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const now = (await request(server.url, 'GET', `/attachments/${id}`, { token: user.token })).json.body.attachment;
        if (now.received_bytes === held.received_bytes && poll >= 3) break;
        held = now;
      }
      assert.ok(held.received_bytes < data.length, 'the kill came before the end');

      const second = await cli(args, killEnv);
      assert.equal(second.code, 0, second.stderr);
      const result = JSON.parse(second.stdout) as { audio_clip: { audio: { sha1: string; size: number } }; upload: { bytes: number; resumed: boolean } };
      assert.equal(result.audio_clip.audio.sha1, sha1(data));
      assert.equal(result.upload.resumed, true);
      const missing = data.length - held.received_bytes;
      // Chunk bytes of the second run: what was missing, and nothing of what the server held.
      assert.ok(result.upload.bytes <= missing, `second run sent ${result.upload.bytes} bytes for ${missing} missing`);
      const resent = proxy.stats.bytesUp - data.length;
      t.diagnostic(
        `100 MiB upload killed at ${(held.received_bytes / MiB).toFixed(1)} MiB held by the server (${(upAtKill / MiB).toFixed(1)} MiB sent); ` +
          `second run sent ${(result.upload.bytes / MiB).toFixed(2)} MiB of chunks; ` +
          `all bytes on the wire over both runs minus the file: ${(resent / 1024).toFixed(0)} KiB (${((resent / data.length) * 100).toFixed(2)}%, HTTP framing included)`,
      );
      // A kill loses at most the chunks in flight (4 of at most 2 MiB), plus HTTP framing.
      assert.ok(resent < 4 * 2 * MiB + MiB, `re-sent ${resent} bytes`);
      assert.equal(await jobAttachment(killEnv.TRICKLE_CONFIG_DIR), null, 'the job record is gone once done');
    } finally {
      await proxy.close();
      await rm(file, { force: true });
    }
  });

  test('Ctrl-C stops an upload with status 130; running it again resumes', async () => {
    const user = await newUser(server.url, 'cli_sigint');
    const data = audioFile(24 * MiB);
    const file = path.join(workDir, 'interrupted.wav');
    await writeFile(file, data);
    const proxy = await FaultProxy.start(server.url, { throttleBytesPerSecond: 8 * MiB });
    const intEnv = { ...env, TRICKLE_CONFIG_DIR: path.join(workDir, 'int-config'), TRICKLE_SERVER: proxy.url, TRICKLE_TOKEN: user.token };
    try {
      const first = startCli(['upload', file, '--title', 'Interrupted'], intEnv);
      let started = false;
      for (let poll = 0; poll < 1200 && !(started = (await jobAttachment(intEnv.TRICKLE_CONFIG_DIR)) !== null); poll += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(started, 'the CLI never started the upload within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 800));
      first.child.kill('SIGINT');
      const stopped = await first.done;
      assert.equal(stopped.code, 130, stopped.stderr);
      assert.match(stopped.stderr, /run the same command again/);
      proxy.replan({});
      const second = await cli(['upload', file, '--title', 'Interrupted'], intEnv);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /Resuming the upload/);
      assert.match(second.stdout, /Created clip \d+ "Interrupted"/);
    } finally {
      await proxy.close();
      await rm(file, { force: true });
    }
  });
});
