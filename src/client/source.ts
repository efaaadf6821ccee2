/** What an upload reads from: random access by offset, so any range can be (re)sent. */
export interface UploadSource {
  readonly size: number;
  /** The filename the server is told. */
  readonly name: string;
  /** Bytes [offset, offset + length); only that much is held in memory. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** A Blob or File (browsers, and Node): slices are read lazily, never the whole file. */
export function blobSource(blob: Blob, name?: string): UploadSource {
  const fileName = name ?? ('name' in blob && typeof blob.name === 'string' && blob.name !== '' ? blob.name : 'upload');
  return {
    size: blob.size,
    name: fileName,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Bytes already in memory: slices are views, not copies. */
export function bytesSource(bytes: Uint8Array, name = 'upload'): UploadSource {
  return {
    size: bytes.byteLength,
    name,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

export function isUploadSource(value: unknown): value is UploadSource {
  return typeof value === 'object' && value !== null && typeof (value as UploadSource).read === 'function' && typeof (value as UploadSource).size === 'number';
}
