/**
 * Request parameters: Rails-style nested names (attachment[size], tags[]) from the
 * query string, urlencoded and multipart bodies, or JSON, merged into one object
 * (body wins), then checked and decoded against the route's TypeBox schema.
 */
import { FormatRegistry, Type, type TSchema, type StaticDecode } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import qs from 'qs';
import { ApiError, invalidParameter, missingParameter } from '../domain/errors.js';

/** Limits that keep hostile parameter sets cheap to parse. */
export const QS_OPTIONS: qs.IParseOptions = {
  depth: 5,
  arrayLimit: 100,
  parameterLimit: 200,
  allowPrototypes: false,
  strictDepth: true,
};

const MALFORMED_QUERY = Symbol('malformed query');

/**
 * For the URL's query string: never throws (a throw there escapes the framework),
 * but marks the result; rejectMalformedQuery() turns the mark into a 400.
 */
export function parseUrlQuery(text: string): Record<string | symbol, unknown> {
  try {
    return parseQueryString(text);
  } catch (error) {
    return { [MALFORMED_QUERY]: (error as Error).message };
  }
}

export function rejectMalformedQuery(query: unknown): void {
  if (isPlainObject(query) && MALFORMED_QUERY in query) {
    throw new ApiError('malformed_body', String((query as Record<symbol, unknown>)[MALFORMED_QUERY]));
  }
}

export function parseQueryString(text: string): Record<string, unknown> {
  try {
    return qs.parse(text, QS_OPTIONS) as Record<string, unknown>;
  } catch (error) {
    throw new ApiError('malformed_body', `The parameters could not be parsed: ${(error as Error).message}.`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Deep merge where `over` wins; arrays and scalars are replaced, not merged. */
export function mergeParams(base: unknown, over: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  if (!isPlainObject(over)) return out;
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeParams(out[key], value) : value;
  }
  return out;
}

/** Collects multipart fields as they arrive, so what is known so far can be read at any time. */
export class FieldCollector {
  private readonly pairs: string[] = [];

  constructor(private readonly query: unknown) {}

  add(name: string, value: string): void {
    if (this.pairs.length >= QS_OPTIONS.parameterLimit!) throw new ApiError('request_too_large', 'Too many form fields.');
    this.pairs.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }

  params(): Record<string, unknown> {
    return mergeParams(this.query, parseQueryString(this.pairs.join('&')));
  }
}

/** "/attachment/chunk_offset" → "attachment[chunk_offset]" */
function railsName(pointer: string): string {
  const [first, ...rest] = pointer.split('/').filter(Boolean);
  return (first ?? '') + rest.map((p) => `[${p}]`).join('');
}

function valueAt(value: unknown, pointer: string): unknown {
  let current = value;
  for (const key of pointer.split('/').filter(Boolean)) {
    if (!isPlainObject(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Checks and decodes merged params; every failure is a 400 naming the parameter. */
export function decodeParams<S extends TSchema>(schema: S, params: unknown): StaticDecode<S> {
  for (const error of Value.Errors(schema, params)) {
    // Report the innermost problem: a missing property, else the first bad value.
    const missing = error.schema && (error.value === undefined || valueAt(params, error.path) === undefined);
    const name = railsName(error.path);
    if (missing) throw missingParameter(name);
    throw invalidParameter(name, describe(error.schema));
  }
  try {
    return Value.Decode(schema, params);
  } catch (error) {
    const e = error as { path?: string; message?: string; error?: { message?: string } };
    if (e.path !== undefined) throw invalidParameter(railsName(e.path), e.error?.message ?? e.message ?? 'is invalid');
    throw error;
  }
}

function describe(schema: TSchema): string {
  if (typeof schema.description === 'string') return `must be ${schema.description}`;
  if (schema.type === 'string') return 'must be a string';
  if (schema.type === 'object') return 'must be a set of nested parameters';
  return 'has an invalid value';
}

// ---------------------------------------------------------------- parameter types

/**
 * A whole number sent as a JSON number or a plain base-10 string; "1e3", "12abc",
 * "" and values outside [minimum, maximum] are rejected.
 */
export function IntegerParam(options: { minimum?: number; maximum?: number; description?: string } = {}) {
  const minimum = options.minimum ?? 0;
  const maximum = options.maximum ?? Number.MAX_SAFE_INTEGER;
  const description = options.description ?? `a whole number from ${minimum} to ${maximum}`;
  return Type.Transform(
    Type.Union([Type.Integer(), Type.String({ pattern: '^-?[0-9]{1,16}$' })], { description }),
  )
    .Decode((raw) => {
      const value = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isSafeInteger(value) || value < minimum || value > maximum) throw new Error(`must be ${description}`);
      return value;
    })
    .Encode((value) => value);
}

/** A short text value; numbers sent for it (JSON) are accepted as their text. */
export function TextParam(options: { maxLength?: number; description?: string } = {}) {
  const maxLength = options.maxLength ?? 1024;
  const description = options.description ?? `text of at most ${maxLength} characters`;
  return Type.Transform(Type.Union([Type.String({ maxLength }), Type.Number()], { description }))
    .Decode((raw) => String(raw))
    .Encode((value) => value);
}

// A text field where a file part belongs is never valid.
FormatRegistry.Set('binary', () => false);

/** A file, as a multipart part; files never reach decodeParams as values. */
export const FilePart = Type.Unsafe<never>({ type: 'string', format: 'binary', description: 'a multipart file part' });

/** A hex SHA1, any case; decoded to lower case. */
export const Sha1Param = Type.Transform(Type.String({ pattern: '^[0-9a-fA-F]{40}$', description: '40 hexadecimal digits (a SHA1)' }))
  .Decode((value) => value.toLowerCase())
  .Encode((value) => value);
