/**
 * Hands a Kysely transaction across the domain as an opaque TransactionScope, so a
 * repository can let the caller add work (enqueue a job) to the transaction it holds.
 */
import type { Transaction } from 'kysely';
import type { TransactionScope } from '../domain/jobs/ports.js';
import type { Tables } from './schema.js';

const transactions = new WeakMap<TransactionScope, Transaction<Tables>>();

export function scopeOf(trx: Transaction<Tables>): TransactionScope {
  const scope: TransactionScope = Object.freeze({ transactionScope: true as const });
  transactions.set(scope, trx);
  return scope;
}

export function transactionOf(scope: TransactionScope): Transaction<Tables> {
  const trx = transactions.get(scope);
  if (!trx) throw new Error('this transaction scope does not come from the SQL database');
  return trx;
}
