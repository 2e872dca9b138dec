import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

/** Source of the native DNS server, relative to this file. */
export const DNS_SOURCE = resolve(__dirname, '../../../native/drydock-dns.c');

/**
 * Compiles native/drydock-dns.c into `dir` with gcc, warnings as errors (tests
 * only; tools/build/build.mjs produces dist/native/drydock-dns). `static`
 * builds as the image does. A missing gcc is a failure, never a skip.
 */
export function buildDnsHelper(dir: string, opts: { static?: boolean; name?: string } = {}): string {
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error || gcc.status !== 0) {
    throw new Error(`gcc is required to build ${DNS_SOURCE} for these tests (apt-get install gcc): ${gcc.error?.message ?? gcc.stderr}`);
  }
  const out = join(dir, opts.name ?? 'drydock-dns');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', ...(opts.static ? ['-static'] : []), '-o', out, DNS_SOURCE], { stdio: 'pipe' });
  return out;
}
