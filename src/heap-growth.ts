/**
 * How far V8 lets the old generation grow before its next full collection. By default it
 * grows up to fourfold while collections look cheap; under hundreds of uploads at once, most
 * of what each request leaves in the old generation is already dead, so the heap swelled from
 * 30 to about 110 MiB between collections and the process peaked at 225-240 MiB. Growing by
 * 2.5x at most keeps that peak near 195 MiB; twofold kept it near 178 MiB but lengthened the
 * slowest requests (the helper threads' marking competes with the requests on a small
 * machine). docs/benchmarks.md, issue 27, "Seventh round". A growth given to node itself
 * (command line or NODE_OPTIONS) is kept.
 */
import v8 from 'node:v8';

const GROWTH_PERCENT = 150;
const FLAG = '--heap-growing-percent';

export function limitHeapGrowth(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => arg.replaceAll('_', '-').startsWith(FLAG));
  if (!given) v8.setFlagsFromString(`${FLAG}=${GROWTH_PERCENT}`);
}
