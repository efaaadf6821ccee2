import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { BlobReferences } from '../../domain/maintenance/ports.js';
import type { Database } from '../database.js';
import type { Tables } from '../schema.js';

/**
 * Every column that names a stored blob. A table or column that names one goes here, and both
 * the orphan sweep (which must not delete it) and backups (which must hold it) see it.
 */
const BLOB_COLUMNS: ReadonlyArray<readonly [keyof Tables, string]> = [
  ['attachments', 'storage_key'],
  ['media_files', 'storage_key'],
  ['attachment_pieces', 'storage_key'],
  // Renditions made by media processing (SPEC 8).
  ['media_processing', 'mp3_key'],
  ['media_processing', 'low_opus_key'],
  ['media_processing', 'low_aac_key'],
  ['media_processing', 'waveform_key'],
  ['image_renditions', 'storage_key'],
];

type KeyQuery = SelectQueryBuilder<Tables, keyof Tables, { storage_key: string }>;

/** The union of every blob column's values, each narrowed by `where` (table, column, query). */
function blobKeys(db: Kysely<Tables>, where: (table: keyof Tables, column: string, query: KeyQuery) => KeyQuery): KeyQuery {
  const queries = BLOB_COLUMNS.map(([table, column]) =>
    where(table, column, db.selectFrom(table).select(sql<string>`${sql.ref(column)}`.as('storage_key')).where(sql.ref(column), 'is not', null) as KeyQuery),
  );
  return queries.slice(1).reduce((union, query) => union.union(query), queries[0]!);
}

/**
 * Every key the records name that must be stored: what a backup must hold. An unfinished
 * upload's file exists only where uploads are written in place (on object storage its key is
 * the one its assembly will have).
 */
export function namedBlobKeys(db: Kysely<Tables>, uploadsInPlace: boolean): KeyQuery {
  return blobKeys(db, (table, _column, query) => (table === 'attachments' && !uploadsInPlace ? query.where(sql.ref('state'), '<>', 'uploading') : query));
}

export class SqlBlobReferences implements BlobReferences {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async referenced(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await blobKeys(this.database.db, (_table, column, query) => query.where(sql.ref(column), 'in', keys)).execute();
    return new Set(rows.map((r) => r.storage_key));
  }
}
