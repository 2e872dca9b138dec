import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A new empty directory /tmp/dd-<prefix>-XXXXXX. Always under /tmp and short:
 * unix socket paths inside it (containerd's, the shims') must stay under 108 bytes.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16) || 'tmp';
  return mkdtemp(join('/tmp', `dd-${safe}-`));
}
