/** The response envelope that existing clients check key by key. */
import { ERROR_TABLE, type ErrorName } from '../domain/errors.js';

export interface Envelope<T> {
  version: 200;
  timestamp: number;
  window: 60;
  body: T;
}

export function envelope<T>(body: T): Envelope<T> {
  return { version: 200, timestamp: Math.floor(Date.now() / 1000), window: 60, body };
}

export interface ErrorBody {
  error: { code: number; name: ErrorName; description: string; details?: Record<string, unknown> };
}

export function errorEnvelope(name: ErrorName, description?: string, details?: Record<string, unknown>): Envelope<ErrorBody> {
  const entry = ERROR_TABLE[name];
  return envelope({
    error: { code: entry.code, name, description: description ?? entry.description, ...(details ? { details } : {}) },
  });
}
