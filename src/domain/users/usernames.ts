/** Trickle's username rules (SPEC 2), and fitting a name from elsewhere to them. */

export const USERNAME = /^[A-Za-z0-9_]{3,32}$/;
const MAX = 32;
const FALLBACK = 'user';

/**
 * A valid username as close to `name` as the rules allow: accents dropped, other characters
 * turned into underscores, trimmed to 32. Too little left over gives "user".
 */
export function fitUsername(name: string): string {
  const fitted = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // combining marks: "José" → "Jose"
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .slice(0, MAX)
    .replace(/_$/, '');
  return fitted.length >= 3 ? fitted : FALLBACK;
}

/** The n-th alternative when `base` is taken: base_2, base_3, … still at most 32 characters. */
export function numberedUsername(base: string, n: number): string {
  const suffix = `_${n}`;
  return base.slice(0, MAX - suffix.length) + suffix;
}
