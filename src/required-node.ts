/**
 * The oldest Node.js line Trickle runs on (package.json `engines`), checked first by every entry
 * point before any native module loads: better-sqlite3 built for a newer Node crashes an older
 * one with a segmentation fault and no message. scripts/check-node.mjs makes the same check
 * before `npm start` builds anything.
 */
export const MINIMUM_NODE_MAJOR = 22;

/** Why this Node.js cannot run Trickle, or null when it can. */
export function oldNodeMessage(version: string = process.versions.node): string | null {
  if (Number(version.split('.')[0]) >= MINIMUM_NODE_MAJOR) return null;
  return [
    `trickle: this is Node.js ${version}; Trickle needs Node.js ${MINIMUM_NODE_MAJOR} or newer (24 LTS recommended).`,
    'In a Trickle checkout on Linux x64, `. scripts/use-node24.sh` puts Node 24 on PATH for this shell;',
    'elsewhere install Node.js 24 LTS (https://nodejs.org).',
    '',
  ].join('\n');
}

/** Stops the process at once, with the message, when this Node.js is too old. */
export function exitOnOldNode(): void {
  const message = oldNodeMessage();
  if (message === null) return;
  process.stderr.write(message);
  process.exit(1);
}
