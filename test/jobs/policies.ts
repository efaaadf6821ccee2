import type { JobPolicy } from '../../src/domain/jobs/ports.js';

/** Quick retries and the shortest lease both adapters accept. */
export const TEST_POLICY: JobPolicy = { maxAttempts: 3, retryDelaySeconds: 1, exponential: true, maxRetryDelaySeconds: 2, leaseSeconds: 10, concurrency: 2 };
