/**
 * `npm run bench:links`: what a user of an app on a phone's bad link feels. For each link of
 * bench/links/scenarios.ts, in one run: the Trickle SDK's upload(), tus-js-client against
 * Trickle's /files/ and against @tus/server, and the SDK's download, each through the link
 * emulator (test/helpers/link-emulator.ts) on a fresh server process. Prints time over ideal
 * (the file's bytes at the link's rate, stretched by the time the link is down meanwhile) and
 * link bytes over the file's size, and writes every run to .bench/links-results.json.
 *
 *   npm run bench:links -- [--only 3g,edge] [--server-js PATH]
 *   LINKS_TRACE=1 npm run bench:links -- --only edge --clients sdk   # the SDK's retries and acknowledgements, timed
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrickleClient, upload } from '../src/client/node.js';
import { LinkEmulator } from '../test/helpers/link-emulator.js';
import { buildTrickle, buildTusServer } from './build.js';
import { CLIENT_LABEL, sdkDownload, warmUp, sdkUpload, sha1Of, tusToTrickle, tusToTusServer, type LinkClient, type LinkRecord, type RunTarget } from './links/runs.js';
import { cliRecording, median, RECORDING_LABEL, RECORDING_SECONDS, sdkRecording, type RecordingRecord } from './links/recording.js';
import { linkScenarios, type LinkScenario } from './links/scenarios.js';
import { formatBytes, formatColumns, writeJson } from './report.js';
import type { ManagedServer } from './server-process.js';
import { wavBytes } from './source-file.js';
import { startTrickle } from './trickle-server.js';
import { startTus } from './tus-server.js';

const projectRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const outputDir = path.join(projectRoot, '.bench', 'links');
const tempRoot = path.join(os.tmpdir(), 'trickle-bench');

const USAGE = `Usage: npm run bench:links -- [options]

  --only NAME[,..]  run only these links: ${linkScenarios().map((s) => s.name).join(', ')}, recording
  --clients C[,..]  run only these clients: sdk, tus-trickle, tus-tusd, sdk-download
  --server-js PATH  use this built server instead of building src/ afresh
  --help            this text
`;

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

interface LinkBenchOptions {
  only: string[];
  clients: string[];
  serverJs: string | null;
  help: boolean;
}

function parseArgs(argv: readonly string[]): LinkBenchOptions {
  const options: LinkBenchOptions = { only: [], clients: [], serverJs: null, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    if (name === '--only') options.only.push(...value().split(',').filter(Boolean));
    else if (name === '--clients') options.clients.push(...value().split(',').filter(Boolean));
    else if (name === '--server-js') options.serverJs = value();
    else if (name === '--help' || name === '-h') options.help = true;
    else throw new Error(`unknown option ${name}; try --help`);
  }
  return options;
}

function describe(record: LinkRecord): string {
  const what = `${record.scenario} ${CLIENT_LABEL[record.client]}`;
  const figures = `${(record.ms / 1000).toFixed(1)} s (ideal ${(record.idealMs / 1000).toFixed(1)} s), link bytes ${formatBytes(record.linkBytes)}, ${record.resets} resets, ${record.silenced} silenced`;
  return `${what}: ${record.ok ? 'ok' : `FAILED (${record.error})`}, ${figures}`;
}

export function formatLinkTable(records: readonly LinkRecord[], scenarios: readonly LinkScenario[]): string {
  const title = new Map(scenarios.map((s) => [s.name, s.title]));
  const body = records.map((r) => [
    title.get(r.scenario) ?? r.scenario,
    CLIENT_LABEL[r.client],
    formatBytes(r.fileBytes),
    r.ok ? `${(r.ms / r.idealMs).toFixed(2)}x` : '-',
    `${(r.linkBytes / r.fileBytes).toFixed(2)}x`,
    r.ok ? 'ok' : (r.error ?? 'failed').slice(0, 60),
  ]);
  return formatColumns(['link', 'client', 'file', 'time / ideal', 'link bytes / file', 'result'], body, new Set([2, 3, 4]));
}

/** The user the clients act as, made directly on the server (not through a link). */
async function signUp(server: ManagedServer): Promise<{ token: string; direct: TrickleClient }> {
  const direct = new TrickleClient({ server: server.baseUrl });
  await direct.register({ username: 'links', email: 'links@example.com', password: 'links-bench-1' });
  const token = await direct.login('links', 'links-bench-1');
  return { token, direct };
}

async function runScenario(
  scenario: LinkScenario,
  servers: { trickle: ManagedServer; tus: ManagedServer },
  user: { token: string; direct: TrickleClient },
  wanted: (client: LinkClient) => boolean,
): Promise<LinkRecord[]> {
  const { trickle, tus: tusServer } = servers;
  const bytes = wavBytes(scenario.fileBytes);
  const sha1 = sha1Of(bytes);
  const toTrickle = await LinkEmulator.start(trickle.baseUrl, scenario.profile);
  const toTus = await LinkEmulator.start(tusServer.baseUrl, scenario.profile);
  const records: LinkRecord[] = [];
  const keep = (record: LinkRecord) => {
    records.push(record);
    log(describe(record));
  };
  try {
    const onTrickle: RunTarget = { scenario: scenario.name, link: toTrickle, bytes, sha1 };
    if (wanted('sdk')) keep(await sdkUpload(onTrickle, user.token, user.direct));
    if (wanted('tus-trickle')) keep(await tusToTrickle(onTrickle, user.token, user.direct));
    if (wanted('tus-tusd')) keep(await tusToTusServer({ ...onTrickle, link: toTus }, tusServer.dataDir));
    if (!wanted('sdk-download')) return records;
    // The download's file goes up directly, as a clip.
    const stored = await upload(bytes, { client: user.direct, state: false, filename: 'bench.wav' });
    const { clip } = await user.direct.createClip({ title: scenario.name, audio: { chunked_attachment_id: stored.attachmentId, fingerprint: stored.fingerprint } });
    keep(await sdkDownload(onTrickle, clip.urls.audio, tempRoot));
  } finally {
    await toTrickle.close();
    await toTus.close();
  }
  return records;
}

/** Uploads while recording over the handover link: the SDK's growing upload, then `trickle upload -`. */
async function runRecordings(trickle: ManagedServer, serverJs: string, user: { token: string; direct: TrickleClient }): Promise<RecordingRecord[]> {
  const handover = linkScenarios().find((s) => s.name === '3g-handover')!;
  const link = await LinkEmulator.start(trickle.baseUrl, handover.profile);
  const records: RecordingRecord[] = [];
  try {
    const cliJs = path.join(path.dirname(serverJs), 'cli', 'main.js');
    for (const client of ['sdk-growing', 'cli-stdin'] as const) {
      for (const seconds of RECORDING_SECONDS) {
        const record = client === 'sdk-growing' ? await sdkRecording(seconds, link, user.token, user.direct) : await cliRecording(seconds, link, user.token, user.direct, cliJs, tempRoot);
        records.push(record);
        log(`recording ${seconds} s ${RECORDING_LABEL[client]}: ${record.ok ? `${record.afterEndMs.toFixed(0)} ms after the end` : `FAILED (${record.error})`}, link bytes ${(record.linkBytes / record.fileBytes).toFixed(3)}x`);
      }
    }
  } finally {
    await link.close();
  }
  return records;
}

export function formatRecordingTable(records: readonly RecordingRecord[]): string {
  const body = (['sdk-growing', 'cli-stdin'] as const).flatMap((client) => {
    const runs = records.filter((r) => r.client === client);
    if (runs.length === 0) return [];
    const ok = runs.filter((r) => r.ok);
    const times = ok.map((r) => r.afterEndMs);
    const bytes = runs.reduce((sum, r) => sum + r.linkBytes, 0) / runs.reduce((sum, r) => sum + r.fileBytes, 0);
    return [[RECORDING_LABEL[client], runs.map((r) => `${r.seconds} s`).join(', '), ok.length ? `${median(times).toFixed(0)} ms` : '-', ok.length ? `${Math.max(...times).toFixed(0)} ms` : '-', `${bytes.toFixed(3)}x`, `${ok.length}/${runs.length} ok`]];
  });
  return formatColumns(['client', 'recordings', 'end -> all on the server (median)', 'slowest', 'link bytes / file', 'result'], body, new Set([2, 3, 4]));
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = linkScenarios().filter((s) => options.only.length === 0 || options.only.includes(s.name));
  const recordings = options.only.length === 0 || options.only.includes('recording');
  if (scenarios.length === 0 && !recordings) throw new Error(`no link named ${options.only.join(', ')}`);
  await mkdir(tempRoot, { recursive: true });
  log(options.serverJs ? `Using Trickle build ${options.serverJs}` : 'Building Trickle into .bench/links/dist ...');
  const serverJs = options.serverJs ? path.resolve(options.serverJs) : await buildTrickle(projectRoot, path.join(outputDir, 'dist'));
  const tusJs = await buildTusServer(projectRoot, path.join(outputDir, 'tus'));
  const startedAt = new Date();
  // No media processing: ffmpeg jobs would take the CPU from the runs that follow.
  const trickle = await startTrickle({ serverJs, durable: true, maxAttachmentSize: 64 * 1024 * 1024, tempRoot, cpuProfile: null, maxOpenAttachments: 1000, env: { FFMPEG_PATH: '/nonexistent/ffmpeg', LOG_LEVEL: 'error' } });
  const tusServer = await startTus({ programJs: tusJs, tempRoot });
  const records: LinkRecord[] = [];
  let recorded: RecordingRecord[] = [];
  try {
    const user = await signUp(trickle);
    await warmUp({ trickle: trickle.baseUrl, tus: tusServer.baseUrl }, user.token);
    const wanted = (client: LinkClient) => options.clients.length === 0 || options.clients.includes(client);
    for (const scenario of scenarios) records.push(...(await runScenario(scenario, { trickle, tus: tusServer }, user, wanted)));
    if (recordings) recorded = await runRecordings(trickle, serverJs, user);
  } finally {
    await trickle.stop();
    await tusServer.stop();
  }
  const jsonPath = path.join(projectRoot, '.bench', 'links-results.json');
  await writeJson(jsonPath, { date: startedAt.toISOString(), durationSeconds: (Date.now() - startedAt.getTime()) / 1000, scenarios, runs: records, recordings: recorded });
  log(`\n${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, Node ${process.version}, ${startedAt.toISOString()}, ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
  log('time / ideal: ideal = the file at the link\'s rate, stretched by the time the link is down meanwhile; link bytes: what entered the link, lost bytes included.\n');
  if (records.length > 0) log(formatLinkTable(records, scenarios));
  if (recorded.length > 0) {
    log(`\nUploading while recording over the 3G handover link (a piece a second, ${RECORDING_SECONDS.join(', ')} s recordings):\n`);
    log(formatRecordingTable(recorded));
  }
  log(`\nEvery run: ${path.relative(process.cwd(), jsonPath)}`);
  return records.some((r) => !r.ok && (r.client === 'sdk' || r.client === 'sdk-download')) || recorded.some((r) => !r.ok) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:links: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
