/**
 * The databases a conformance suite runs against: SQLite always, PostgreSQL when
 * TEST_DATABASE_URL names a server (each suite gets a fresh database there).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'postgres' | 'sqlite+s3' | 'postgres+s3';
  /** Why this kind is skipped here, or undefined when it runs. */
  skip: string | undefined;
  create(dataDir: string): Promise<TestDatabase>;
  /** Settings that put the blobs in S3 (a fresh prefix each call); undefined: the local disk. */
  storage?: (() => Record<string, string>) | undefined;
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export function databaseKinds(): DatabaseKind[] {
  const pgUrl = process.env.TEST_DATABASE_URL;
  return [
    {
      name: 'sqlite',
      skip: undefined,
      create: async (dataDir) => ({ url: path.join(dataDir, 'test.sqlite'), drop: async () => undefined }),
    },
    {
      name: 'postgres',
      skip: pgUrl ? undefined : 'TEST_DATABASE_URL is not set',
      create: async () => {
        const name = `trickle_test_${randomBytes(6).toString('hex')}`;
        await adminQuery(pgUrl!, `CREATE DATABASE ${name}`);
        const url = new URL(pgUrl!);
        url.pathname = `/${name}`;
        return { url: url.toString(), drop: () => adminQuery(pgUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
      },
    },
  ];
}

/**
 * S3 settings for a test server, from TEST_S3_* (scripts/s3-test-server.sh prints them), each
 * server under a prefix of its own; undefined when no test S3 server is configured. The keys
 * go where the AWS SDK's default chain finds them: this process's environment, which server
 * processes started by tests inherit.
 */
export function s3Settings(): (() => Record<string, string>) | undefined {
  const endpoint = process.env.TEST_S3_ENDPOINT;
  if (!endpoint) return undefined;
  process.env.AWS_ACCESS_KEY_ID = process.env.TEST_S3_ACCESS_KEY_ID ?? '';
  process.env.AWS_SECRET_ACCESS_KEY = process.env.TEST_S3_SECRET_ACCESS_KEY ?? '';
  const bucket = process.env.TEST_S3_BUCKET ?? 'trickle-test';
  return () => ({ STORAGE_URL: `s3://${bucket}/t-${randomBytes(6).toString('hex')}`, S3_ENDPOINT: endpoint });
}

/**
 * The database kinds, plus the same suites on S3-compatible storage (with SQLite, or with
 * PostgreSQL when `database` says so): for suites about bytes, which must hold on every store.
 */
export function storageKinds(database: 'sqlite' | 'postgres' = 'sqlite'): DatabaseKind[] {
  const kinds = databaseKinds();
  const base = kinds.find((k) => k.name === database)!;
  const storage = s3Settings();
  const skip = storage ? base.skip : 'TEST_S3_ENDPOINT is not set (scripts/s3-test-server.sh start)';
  return [...kinds, { name: `${database}+s3`, skip, create: base.create, storage }];
}
