/**
 * The integrity fields of RFC 9530 as the resumable-upload draft uses them: `Content-Digest`
 * (this request's content), `Repr-Digest` (the whole representation, checked at completion)
 * and `Want-Repr-Digest` (the client asks for the server's). Algorithms here: `sha-256` and
 * `sha` (SHA-1); others are ignored, as RFC 9530 lets a recipient do. A field that is not a
 * well-formed Dictionary, or a known algorithm with a value of the wrong type, is 400.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../domain/errors.js';
import type { DigestAlgorithm, ExpectedDigest } from '../../../domain/protocols/digests.js';
import type { RepresentationDigests } from '../../../domain/protocols/ports.js';
import { byteSequence, parseDictionary, type Member } from './structured-fields.js';

/** RFC 9530 algorithm keys, in the order this server prefers them. */
const ALGORITHMS: ReadonlyArray<[key: string, algorithm: DigestAlgorithm]> = [
  ['sha-256', 'sha256'],
  ['sha', 'sha1'],
];

function dictionary(request: FastifyRequest, name: string): Map<string, Member> | null {
  const raw = request.headers[name];
  if (raw === undefined) return null;
  const members = typeof raw === 'string' ? parseDictionary(raw) : null;
  if (members === null) throw malformed(name);
  return members;
}

function malformed(name: string): ApiError {
  const field = name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
  return new ApiError('invalid_parameter', `${field} must be a structured-field Dictionary as RFC 9530 defines it.`, { parameter: field });
}

/** Digests a request states (`Content-Digest` or `Repr-Digest`), for the algorithms known here. */
function statedDigests(request: FastifyRequest, name: string): ExpectedDigest[] {
  const members = dictionary(request, name);
  if (members === null) return [];
  const digests: ExpectedDigest[] = [];
  for (const [key, algorithm] of ALGORITHMS) {
    const member = members.get(key);
    if (member === undefined) continue;
    if (!('value' in member) || !Buffer.isBuffer(member.value)) throw malformed(name);
    digests.push({ algorithm, value: member.value });
  }
  return digests;
}

export function contentDigests(request: FastifyRequest): ExpectedDigest[] {
  return statedDigests(request, 'content-digest');
}

/** Repr-Digest and Want-Repr-Digest of a request. */
export function representationDigests(request: FastifyRequest): RepresentationDigests {
  return { expected: statedDigests(request, 'repr-digest'), wanted: wantedDigest(request) };
}

/** The algorithm the client prefers most among those known here (preference 1 to 10; 0 is "not acceptable"). */
function wantedDigest(request: FastifyRequest): DigestAlgorithm[] {
  const members = dictionary(request, 'want-repr-digest');
  if (members === null) return [];
  let best: { algorithm: DigestAlgorithm; preference: number } | null = null;
  for (const [key, algorithm] of ALGORITHMS) {
    const member = members.get(key);
    if (member === undefined) continue;
    if (!('value' in member) || typeof member.value !== 'number' || member.value < 0 || member.value > 10) throw malformed('want-repr-digest');
    if (member.value > 0 && (best === null || member.value > best.preference)) best = { algorithm, preference: member.value };
  }
  return best ? [best.algorithm] : [];
}

/** Sends `Repr-Digest` with the digests computed for the client. */
export function sendReprDigest(reply: FastifyReply, digests: Map<DigestAlgorithm, Buffer>): void {
  const members = ALGORITHMS.filter(([, algorithm]) => digests.has(algorithm)).map(([key, algorithm]) => `${key}=${byteSequence(digests.get(algorithm)!)}`);
  if (members.length > 0) reply.header('repr-digest', members.join(', '));
}
