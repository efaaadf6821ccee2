/**
 * Request parameters: Rails-style nested names (attachment[size], tags[]) from the
 * query string, urlencoded and multipart bodies, or JSON, merged into one object
 * (body wins), then checked and decoded against the route's TypeBox schema.
 */
import { FormatRegistry, Type, type TSchema, type StaticDecode } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { createRequire } from 'node:module';
import type QueryString from 'qs';
import { ApiError, invalidParameter, missingParameter } from '../domain/errors.js';

/** Limits that keep hostile parameter sets cheap to parse. */
export const QS_OPTIONS: QueryString.IParseOptions = {
  depth: 5,
  arrayLimit: 100,
  parameterLimit: 200,
  allowPrototypes: false,
  strictDepth: true,
};

const MALFORMED_QUERY = Symbol('malformed query');

/**
 * `qs` loads with the first parameters parsed, not at start: with the 20 small packages it
 * requires (`side-channel` and its helpers) it took about 30 ms of every start.
 */
const require = createRequire(import.meta.url);
let qs: typeof QueryString | null = null;

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
  if (text === '') return {}; // what qs gives: most requests have no query at all
  try {
    qs ??= require('qs') as typeof QueryString;
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
  private readonly query: unknown;

  private readonly pairs: string[] = [];

  constructor(query: unknown) {
    this.query = query;
  }

  /** Adds a multipart field; one cut short by the parser's size limit is refused, never kept truncated. */
  add(field: { fieldname: string; value: unknown; valueTruncated?: boolean; fieldnameTruncated?: boolean }): void {
    if (field.valueTruncated || field.fieldnameTruncated) throw new ApiError('request_too_large', `The form field ${field.fieldname} is too large.`);
    if (this.pairs.length >= QS_OPTIONS.parameterLimit!) throw new ApiError('request_too_large', 'Too many form fields.');
    this.pairs.push(`${encodeURIComponent(field.fieldname)}=${encodeURIComponent(String(field.value))}`);
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

/** Schemas compiled to checking code once each: the dynamic checker costs tens of µs per request. */
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<S extends TSchema>(schema: S): TypeCheck<S> {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    checkers.set(schema, checker);
  }
  return checker as TypeCheck<S>;
}

/** Checks and decodes merged params; every failure is a 400 naming the parameter. */
export function decodeParams<S extends TSchema>(schema: S, params: unknown): StaticDecode<S> {
  const checker = checkerFor(schema);
  if (checker.Check(params)) return decodeChecked(checker, params);
  for (const error of checker.Errors(params)) {
    // Report the innermost problem: a missing property, else the first bad value.
    const missing = error.schema && (error.value === undefined || valueAt(params, error.path) === undefined);
    const name = railsName(error.path);
    if (missing) throw missingParameter(name);
    throw invalidParameter(name, describe(error.schema));
  }
  return decodeChecked(checker, params);
}

function decodeChecked<S extends TSchema>(checker: TypeCheck<S>, params: unknown): StaticDecode<S> {
  try {
    return checker.Decode(params);
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
export function TextParam(options: { maxLength?: number; minLength?: number; description?: string } = {}) {
  const maxLength = options.maxLength ?? 1024;
  const minLength = options.minLength ?? 0;
  const description = options.description ?? (minLength > 0 ? `text of ${minLength} to ${maxLength} characters` : `text of at most ${maxLength} characters`);
  return Type.Transform(Type.Union([Type.String({ maxLength, minLength }), Type.Number()], { description }))
    .Decode((raw) => String(raw))
    .Encode((value) => value);
}

/** A decimal number (JSON number or a plain decimal string) within [minimum, maximum]. */
export function NumberParam(options: { minimum: number; maximum: number }) {
  const description = `a number from ${options.minimum} to ${options.maximum}`;
  return Type.Transform(Type.Union([Type.Number(), Type.String({ pattern: '^-?[0-9]{1,12}(\\.[0-9]{1,15})?$' })], { description }))
    .Decode((raw) => {
      const value = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(value) || value < options.minimum || value > options.maximum) throw new Error(`must be ${description}`);
      return value;
    })
    .Encode((value) => value);
}

/** true/false, 1/0, "true"/"false", "1"/"0". */
export const BooleanParam = Type.Transform(
  Type.Union([Type.Boolean(), Type.Literal(0), Type.Literal(1), Type.String({ pattern: '^(?:[01]|true|false)$' })], { description: 'true or false (1 or 0)' }),
)
  .Decode((raw) => raw === true || raw === 1 || raw === '1' || raw === 'true')
  .Encode((value) => value);

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const LEGACY_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/**
 * Epoch ms of an ISO 8601 time or the legacy "YYYY-MM-DD HH:MM:SS ±HHMM"; a time without
 * a zone is UTC. Null for anything else, including impossible dates (2026-02-30).
 */
export function parseTimestamp(text: string): number | null {
  const value = text.trim();
  const legacy = LEGACY_TIME.exec(value);
  const iso = legacy ? null : ISO_8601.exec(value);
  const m = legacy ?? iso;
  if (!m) return null;
  const [year, month, day, hour = '0', minute = '0', second = '0'] = m.slice(1, 7).map((x) => x ?? '0') as string[];
  let offsetMinutes = 0;
  if (legacy) {
    offsetMinutes = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  } else if (m[8] && m[8] !== 'Z') {
    const zone = m[8].replace(':', '');
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  }
  const fraction = !legacy && m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), fraction);
  const check = new Date(local);
  if (check.getUTCMonth() !== Number(month) - 1 || check.getUTCDate() !== Number(day) || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return null;
  return local - offsetMinutes * 60_000;
}

/** A time, ISO 8601 or "YYYY-MM-DD HH:MM:SS ±HHMM"; decoded to epoch ms. */
export const TimestampParam = Type.Transform(Type.String({ maxLength: 64, description: 'an ISO 8601 time or "YYYY-MM-DD HH:MM:SS ±HHMM"' }))
  .Decode((raw) => {
    const value = parseTimestamp(raw);
    if (value === null) throw new Error('must be an ISO 8601 time or "YYYY-MM-DD HH:MM:SS ±HHMM"');
    return value;
  })
  .Encode((value) => new Date(value).toISOString());

/** Pagination shared by every list (SPEC 4): page[number] from 1, page[items] up to 150, max_time. */
export const PageParams = Type.Object({
  page: Type.Optional(
    Type.Object({
      number: Type.Optional(IntegerParam({ minimum: 1, maximum: 1_000_000 })),
      items: Type.Optional(IntegerParam({ minimum: 1, maximum: 150 })),
    }),
  ),
  max_time: Type.Optional(IntegerParam({ minimum: 0, description: 'unix seconds' })),
});

export function pageWindow(params: StaticDecode<typeof PageParams>, defaultItems = 20): { offset: number; limit: number; maxTime: number | undefined } {
  const items = params.page?.items ?? defaultItems;
  const number = params.page?.number ?? 1;
  return { offset: (number - 1) * items, limit: items, maxTime: params.max_time === undefined ? undefined : params.max_time * 1000 + 999 };
}

// A text field where a file part belongs is never valid.
FormatRegistry.Set('binary', () => false);

/** A file, as a multipart part; files never reach decodeParams as values. */
export const FilePart = Type.String({ format: 'binary', description: 'a multipart file part' });

/** A hex SHA1, any case; decoded to lower case. */
export const Sha1Param = Type.Transform(Type.String({ pattern: '^[0-9a-fA-F]{40}$', description: '40 hexadecimal digits (a SHA1)' }))
  .Decode((value) => value.toLowerCase())
  .Encode((value) => value);
