/** Probe verdicts kept with the attachment they are about (ProbeVerdicts). */
import type { ProbeVerdicts } from '../../domain/media/ports.js';
import type { Database } from '../database.js';

export class SqlProbeVerdicts implements ProbeVerdicts {
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  async isRejectedAudio(attachmentId: number, sha1: string): Promise<boolean> {
    const row = await this.database.db
      .selectFrom('attachments')
      .select('id')
      .where('id', '=', attachmentId)
      .where('audio_rejected_sha1', '=', sha1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async rejectAudio(attachmentId: number, sha1: string): Promise<void> {
    // Only for the bytes that were probed: an attachment whose SHA1 is another is not judged.
    await this.database.db.updateTable('attachments').set({ audio_rejected_sha1: sha1 }).where('id', '=', attachmentId).where('sha1', '=', sha1).execute();
  }
}
