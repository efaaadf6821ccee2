/**
 * Queries built and compiled once, then run with new values: Kysely otherwise builds, freezes
 * and compiles a query tree on every call, which costs more than a small indexed query itself
 * on the per-chunk path. The SQL text stays the same, so SQLite's statement cache keeps hitting.
 */
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Tables } from './schema.js';

/**
 * Runs a compiled query straight on the database handle, past Kysely's connection queue and
 * promise chain, or returns null when it may not right now (then Kysely runs it). Registered
 * by the database for the executors on which that is safe (database.ts).
 */
export type DirectRunner = (sql: string, parameters: readonly unknown[]) => QueryResult<unknown> | null;

const directRunners = new WeakMap<object, DirectRunner>();

/** Queries of this module run on `executor` go through `runner` first. */
export function runDirectly(executor: Kysely<Tables>, runner: DirectRunner): void {
  directRunners.set(executor, runner);
}

/** Stand-ins for the arguments while the query is built; never sent to a database. */
const placeholder = (index: number) => `\u0000trickle-argument-${index}\u0000`;

export interface CompiledStatement<A extends readonly unknown[], R> {
  run(executor: Kysely<Tables>, ...args: A): Promise<QueryResult<R>>;
}

/**
 * `build` must use each argument only as a value (no branching on it): the query is built
 * once with stand-ins, and each stand-in's place among the parameters is remembered. Its
 * arguments are counted from its declaration, so it declares each one (no rest or defaults).
 */
export function compileOnce<A extends readonly unknown[], R>(build: (db: Kysely<Tables>, ...args: A) => Compilable<R>): CompiledStatement<A, R> {
  const arity = build.length - 1;
  const byDialect = new WeakMap<object, { compiled: CompiledQuery<R>; slots: (number | null)[] }>();
  const compile = (db: Kysely<Tables>) => {
    const stand = Array.from({ length: arity }, (_, index) => placeholder(index)) as unknown as A;
    const compiled = build(db, ...stand).compile();
    const slots = compiled.parameters.map((value) => {
      const index = typeof value === 'string' ? stand.indexOf(value as never) : -1;
      return index >= 0 ? index : null;
    });
    for (let index = 0; index < arity; index += 1) {
      if (!slots.includes(index)) throw new Error(`compileOnce: argument ${index} is not a parameter of: ${compiled.sql}`);
    }
    return { compiled, slots };
  };
  return {
    async run(executor, ...args) {
      // One compilation per dialect adapter: a transaction shares its parent's.
      const key = executor.getExecutor().adapter;
      let entry = byDialect.get(key);
      if (!entry) {
        entry = compile(executor);
        byDialect.set(key, entry);
      }
      const { compiled, slots } = entry;
      const parameters = compiled.parameters.map((constant, position) => {
        const slot = slots[position];
        return slot === null || slot === undefined ? constant : args[slot];
      });
      const direct = directRunners.get(executor)?.(compiled.sql, parameters);
      if (direct) return direct as QueryResult<R>;
      return executor.executeQuery<R>({ ...compiled, parameters });
    },
  };
}
