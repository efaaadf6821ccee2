/** The content type of a file, from its first bytes (never from its name). */
export async function sniffContentType(head: Buffer): Promise<string | null> {
  const { fileTypeFromBuffer } = await import('file-type'); // loaded on first use
  const type = await fileTypeFromBuffer(head);
  return type?.mime ?? null;
}

/** Loads the sniffer ahead of the first completed upload. */
export async function warmUpSniffer(): Promise<void> {
  await import('file-type');
}
