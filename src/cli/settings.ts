/**
 * Which server and which token: `--server`/`--token`, else TRICKLE_SERVER/TRICKLE_TOKEN, else
 * what `trickle login` saved in the user's config directory, else the local default server.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configDir } from '../client/node.js';
import { UsageError } from './output.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export interface SavedLogin {
  server?: string;
  token?: string;
  username?: string;
}

export interface Connection {
  server: string;
  token: string | undefined;
}

function configFile(env: NodeJS.ProcessEnv): string {
  return path.join(configDir(env), 'config.json');
}

export async function readSaved(env: NodeJS.ProcessEnv = process.env): Promise<SavedLogin> {
  try {
    return JSON.parse(await readFile(configFile(env), 'utf8')) as SavedLogin;
  } catch {
    return {};
  }
}

/** Written atomically and readable by the user alone: it holds a bearer token. */
export async function saveLogin(login: SavedLogin, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = configFile(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp`;
  await writeFile(temp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
  return file;
}

export async function resolveConnection(flags: { server?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const saved = await readSaved(env);
  const server = flags.server || env.TRICKLE_SERVER || saved.server || DEFAULT_SERVER;
  try {
    const url = new URL(server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--server must be an http:// or https:// URL, got "${server}"`);
  }
  // A saved token belongs to the server it was issued by.
  const savedToken = saved.server === undefined || saved.server === server ? saved.token : undefined;
  return { server, token: flags.token || env.TRICKLE_TOKEN || savedToken };
}

export function requireToken(connection: Connection): string {
  if (!connection.token) throw new Error(`not logged in to ${connection.server}: run \`trickle login\`, or pass --token or TRICKLE_TOKEN`);
  return connection.token;
}
