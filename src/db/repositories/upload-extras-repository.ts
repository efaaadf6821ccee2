import type { DigestAlgorithm } from '../../domain/protocols/digests.js';
import type { RepresentationDigests, UploadExtras, UploadExtrasRepository } from '../../domain/protocols/ports.js';
import type { Database } from '../database.js';

export class SqlUploadExtrasRepository implements UploadExtrasRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async save(attachmentId: number, extras: UploadExtras): Promise<void> {
    await this.database.db
      .insertInto('upload_extras')
      .values({
        attachment_id: attachmentId,
        metadata: extras.metadata,
        concat: extras.concat === null ? null : JSON.stringify(extras.concat),
        digests: extras.digests === null ? null : encodeDigests(extras.digests),
      })
      .execute();
  }

  async saveDigests(attachmentId: number, digests: RepresentationDigests): Promise<void> {
    const stored = await this.find(attachmentId);
    const merged: RepresentationDigests = {
      expected: [...(stored?.digests?.expected ?? []), ...digests.expected],
      wanted: [...new Set([...(stored?.digests?.wanted ?? []), ...digests.wanted])],
    };
    await this.database.db
      .insertInto('upload_extras')
      .values({ attachment_id: attachmentId, metadata: null, concat: null, digests: encodeDigests(merged) })
      .onConflict((conflict) => conflict.column('attachment_id').doUpdateSet({ digests: encodeDigests(merged) }))
      .execute();
  }

  async find(attachmentId: number): Promise<UploadExtras | null> {
    const row = await this.database.db.selectFrom('upload_extras').selectAll().where('attachment_id', '=', attachmentId).executeTakeFirst();
    if (!row) return null;
    return {
      metadata: row.metadata,
      concat: row.concat === null ? null : (JSON.parse(row.concat) as UploadExtras['concat']),
      digests: row.digests === null ? null : decodeDigests(row.digests),
    };
  }
}

/** Digests as JSON: base64 values. */
function encodeDigests(digests: RepresentationDigests): string {
  return JSON.stringify({ expected: digests.expected.map(({ algorithm, value }) => ({ algorithm, value: value.toString('base64') })), wanted: digests.wanted });
}

function decodeDigests(text: string): RepresentationDigests {
  const parsed = JSON.parse(text) as { expected: Array<{ algorithm: DigestAlgorithm; value: string }>; wanted: DigestAlgorithm[] };
  return { expected: parsed.expected.map(({ algorithm, value }) => ({ algorithm, value: Buffer.from(value, 'base64') })), wanted: parsed.wanted };
}
