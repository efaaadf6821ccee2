import type { UploadExtras, UploadExtrasRepository } from '../../domain/uploads/resumable-uploads.js';
import type { Database } from '../database.js';

export class SqlUploadExtrasRepository implements UploadExtrasRepository {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async save(attachmentId: number, extras: UploadExtras): Promise<void> {
    await this.database.db
      .insertInto('upload_extras')
      .values({ attachment_id: attachmentId, metadata: extras.metadata, concat: extras.concat === null ? null : JSON.stringify(extras.concat) })
      .execute();
  }

  async find(attachmentId: number): Promise<UploadExtras | null> {
    const row = await this.database.db.selectFrom('upload_extras').selectAll().where('attachment_id', '=', attachmentId).executeTakeFirst();
    if (!row) return null;
    return { metadata: row.metadata, concat: row.concat === null ? null : (JSON.parse(row.concat) as UploadExtras['concat']) };
  }
}
