import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

/** Source of the native logger, relative to this file. */
export const LOGGER_SOURCE = resolve(__dirname, '../../native/drydock-logger.c');

/**
 * Compiles native/drydock-logger.c into `dir` with gcc (tests only; the build
 * script produces dist/native/drydock-logger). A missing gcc is a failure with
 * a clear message, never a skip.
 */
export function buildLogger(dir: string): string {
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error || gcc.status !== 0) {
    throw new Error(`gcc is required to build ${LOGGER_SOURCE} for these tests (apt-get install gcc): ${gcc.error?.message ?? gcc.stderr}`);
  }
  const out = join(dir, 'drydock-logger');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, LOGGER_SOURCE], { stdio: 'pipe' });
  return out;
}
