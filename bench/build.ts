/**
 * Builds the servers under test to plain JavaScript in .bench/, each in a child process, so
 * that all run on bare `node` (no TypeScript loader adding memory and start-up to their
 * figures): Trickle by its own build (scripts/build.mjs), the peer programs by tsc.
 */
import { spawnSync } from 'node:child_process';
import { rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

function tsc(args: string[], cwd: string): { ok: boolean; output: string } {
  const compiler = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [compiler, ...args], { cwd, encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

/**
 * Builds src/ into `outDir` rather than dist/: someone else may rebuild dist/ while a
 * long benchmark runs, and every run must measure the same code. Resolves the server.js path.
 */
export async function buildTrickle(projectRoot: string, outDir: string): Promise<string> {
  await rm(outDir, { recursive: true, force: true });
  const build = path.join(projectRoot, 'scripts', 'build.mjs');
  const result = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', build, '--out', outDir], { cwd: projectRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`Trickle does not build:\n${result.stderr}`);
  // The built server reads the web app from web/ beside its folder, as dist/ has it.
  await symlink(path.join(projectRoot, 'web'), path.join(outDir, '..', 'web')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return path.join(outDir, 'server.js');
}

/**
 * Builds one self-contained program in bench/ (a peer server) into `outDir`; resolves
 * the .js path. Its imports resolve from the project's node_modules at run time, since
 * .bench/ lies inside the project.
 */
async function buildBenchProgram(projectRoot: string, outDir: string, programName: string, what: string): Promise<string> {
  await rm(outDir, { recursive: true, force: true });
  const program = path.join(projectRoot, 'bench', `${programName}.ts`);
  const options = ['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', '--strict', '--skipLibCheck'];
  const { ok, output } = tsc([...options, '--outDir', outDir, program], projectRoot);
  if (!ok) throw new Error(`${what} does not build:\n${output}`);
  return path.join(outDir, `${programName}.js`);
}

/** Builds bench/bare-server-program.ts into `outDir`; resolves the .js path. */
export function buildBareServer(projectRoot: string, outDir: string): Promise<string> {
  return buildBenchProgram(projectRoot, outDir, 'bare-server-program', 'the bare server');
}

/** Builds bench/tus-server-program.ts into `outDir`; resolves the .js path. */
export function buildTusServer(projectRoot: string, outDir: string): Promise<string> {
  return buildBenchProgram(projectRoot, outDir, 'tus-server-program', 'the @tus/server peer');
}

/** Builds bench/s3-relay-program.ts into `outDir`; resolves the .js path. */
export function buildS3Relay(projectRoot: string, outDir: string): Promise<string> {
  return buildBenchProgram(projectRoot, outDir, 's3-relay-program', 'the S3 relay');
}
