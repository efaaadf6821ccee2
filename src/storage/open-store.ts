/** Opens the blob store the configuration names: the local disk, or S3-compatible storage. */
import path from 'node:path';
import type { BlobStore } from '../domain/storage/ports.js';
import type { Config } from '../config.js';
import { LocalDiskStore } from './local-disk-store.js';

/** `scratchDir`: where this process keeps scratch files (emptied at open); DATA_DIR/scratch by default. */
export async function openBlobStore(
  config: Pick<Config, 'dataDir' | 'durableWrites' | 'storageUrl' | 's3Endpoint' | 's3Region' | 's3ForcePathStyle' | 's3TimeoutSeconds'>,
  scratchDir = path.join(config.dataDir, 'scratch'),
): Promise<BlobStore> {
  if (config.storageUrl === null) return LocalDiskStore.open({ root: config.dataDir, durable: config.durableWrites, scratchDir });
  const url = new URL(config.storageUrl);
  // The SDK is loaded only when S3 is used: a local-disk server need not carry it.
  const { S3Store } = await import('./s3-store.js');
  return S3Store.open({
    bucket: url.hostname,
    prefix: url.pathname.replace(/^\/+|\/+$/g, ''),
    endpoint: config.s3Endpoint ?? undefined,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    scratchDir,
    timeoutMs: config.s3TimeoutSeconds * 1000,
  });
}
