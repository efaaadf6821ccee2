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
  name: 'sqlite' | 'postgres';
  /** Why this kind is skipped here, or undefined when it runs. */
  skip: string | undefined;
  create(dataDir: string): Promise<TestDatabase>;
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
