/** The content type of a file, from its first bytes (never from its name). */
import { fileTypeFromBuffer } from 'file-type';

export async function sniffContentType(head: Buffer): Promise<string | null> {
  const type = await fileTypeFromBuffer(head);
  return type?.mime ?? null;
}
