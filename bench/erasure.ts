/**
 * `npm run bench:erasure`: how long erasing a user with many clips takes (SPEC 10). Each clip has
 * an audio file and a cover image (two stored objects); the user also sent and received a few
 * messages. It runs
 * on SQLite with the local disk, on PostgreSQL when TEST_DATABASE_URL names a server it may
 * create databases on, and on S3 too when TEST_S3_* name one (scripts/s3-test-server.sh env).
 *
 * Two figures per store: through the API (DELETE /account until the user row is gone, the
 * background job's pick-up included), and the erasure run directly, as `trickle-admin erase`
 * does it.
 *   --clips N          clips per erased user (default 1000)
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildApp, type App } from '../src/build-app.js';
import { loadConfig } from '../src/config.js';
import { databaseKinds, s3Settings, type DatabaseKind } from '../test/helpers/databases.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'test', 'fixtures');
const AUDIO = readFileSync(path.join(FIXTURES, 'tone.opus'));
const IMAGE = readFileSync(path.join(FIXTURES, 'cover.jpg'));
const PASSWORD = 'correct horse battery';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : process.argv[at + 1];
}

const CLIPS = Number(option('--clips') ?? 1000);

interface Setup {
  name: string;
  kind: DatabaseKind;
  storage: Record<string, string>;
}

/** SQLite on the local disk; PostgreSQL with TEST_DATABASE_URL; each also on S3 with TEST_S3_* (the test suites' settings). */
function setups(): Setup[] {
  const s3 = s3Settings();
  return databaseKinds()
    .filter((kind) => kind.skip === undefined)
    .flatMap((kind) => {
      const name = kind.name === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      return [{ name: `${name}, local disk`, kind, storage: {} }, ...(s3 ? [{ name: `${name}, S3`, kind, storage: s3() }] : [])];
    });
}

async function call(base: string, method: string, url: string, init: { token?: string; json?: unknown; form?: FormData } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- replies read field by field
  const headers: Record<string, string> = init.token ? { authorization: `Bearer ${init.token}` } : {};
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + url, { method, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.form });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function newUser(base: string, username: string): Promise<{ id: number; token: string }> {
  const created = await call(base, 'POST', '/users', { json: { user: { username, email: `${username}@example.com`, password: PASSWORD } } });
  if (created.status !== 201) throw new Error(`register: ${created.status}`);
  const token = await call(base, 'POST', '/oauth/token', { json: { grant_type: 'password', username, password: PASSWORD } });
  return { id: created.body.body.user.id, token: token.body.access_token };
}

/** The user with CLIPS clips (audio and cover each) and a few messages both ways with `other`. */
async function populate(base: string, user: { id: number; token: string }, other: { id: number; token: string }): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < CLIPS) {
      const i = next++;
      const form = new FormData();
      form.append('audio_clip[title]', `clip ${i}`);
      form.append('audio_clip[uploaded_data]', new Blob([AUDIO]), 'a.opus');
      form.append('audio_clip[uploaded_image]', new Blob([IMAGE]), 'cover.jpg');
      const reply = await call(base, 'POST', '/audio_clips', { token: user.token, form });
      if (reply.status !== 201) throw new Error(`clip: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  for (const [from, to] of [[user, other], [other, user]] as const) {
    for (let i = 0; i < 5; i += 1) {
      const form = new FormData();
      form.append('message[recipient_id]', String(to.id));
      form.append('message[uploaded_data]', new Blob([AUDIO]), 'm.opus');
      if ((await call(base, 'POST', '/account/outbox', { token: from.token, form })).status !== 201) throw new Error('message');
    }
  }
}

async function userGone(app: App, id: number): Promise<void> {
  const { db } = app.services.database;
  while (await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function measure(setup: Setup): Promise<{ name: string; objects: number; api: number; direct: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trickle-erasure-bench-'));
  const database = await setup.kind.create(dir);
  const config = {
    ...loadConfig([], { ...setup.storage }),
    port: 0,
    dataDir: dir,
    databaseUrl: database.url,
    passwordHashLog2N: 10,
    minFreeBytes: 0,
    logLevel: 'silent',
    registrationRateLimit: 0,
    tokenRateLimit: 0,
    // Processing off: the figures are about erasing, not about ffmpeg's background work.
    ffmpegPath: '/nonexistent/ffmpeg',
  };
  const app = await buildApp(config, { jobPollMs: 50 });
  await app.http.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
  try {
    const other = await newUser(base, 'bench_other');
    const [viaApi, direct] = [await newUser(base, 'bench_api'), await newUser(base, 'bench_direct')];
    process.stderr.write(`${setup.name}: making 2 x ${CLIPS} clips…\n`);
    await populate(base, viaApi, other);
    await populate(base, direct, other);
    let objects = 0;
    for await (const blob of app.services.store.listBlobs()) if (blob.key) objects += 1;

    let started = performance.now();
    const reply = await call(base, 'DELETE', '/account', { token: viaApi.token, json: { password: PASSWORD } });
    if (reply.status !== 204) throw new Error(`DELETE /account: ${reply.status}`);
    await userGone(app, viaApi.id);
    const api = (performance.now() - started) / 1000;

    started = performance.now();
    await app.services.erasure.begin(direct.id);
    await app.services.erasure.run(direct.id);
    await userGone(app, direct.id);
    const directSeconds = (performance.now() - started) / 1000;
    return { name: setup.name, objects: Math.round(objects / 2), api, direct: directSeconds };
  } finally {
    await app.http.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const setup of setups()) {
  const result = await measure(setup);
  results.push(result);
  process.stderr.write(`${result.name}: ${result.api.toFixed(2)} s through the API, ${result.direct.toFixed(2)} s run directly\n`);
}
console.log(`| store | clips | stored objects per user (about) | DELETE /account until gone | erasure run directly |`);
console.log(`|---|---|---|---|---|`);
for (const r of results) console.log(`| ${r.name} | ${CLIPS} | ${r.objects} | ${r.api.toFixed(2)} s | ${r.direct.toFixed(2)} s |`);
