/** The merged parameters of a request whose body carries no file we want. */
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import { finished } from 'node:stream/promises';
import { ApiError } from '../domain/errors.js';
import { FieldCollector, mergeParams } from './params.js';

export async function readParams(request: FastifyRequest): Promise<Record<string, unknown>> {
  if (!request.isMultipart()) return mergeParams(request.query, request.body);
  const fields = new FieldCollector(request.query);
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      fields.add(part);
    } else {
      part.file.resume();
      await finished(part.file);
    }
  }
  return fields.params();
}

/** A path id: a positive integer, else there is no such resource. */
export function parseId(raw: unknown, what: string): number {
  if (typeof raw === 'string' && /^[1-9][0-9]{0,14}$/.test(raw)) return Number(raw);
  throw new ApiError('not_found', `No such ${what}.`);
}
