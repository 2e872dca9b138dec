import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface MountLike {
  type?: string;
  source?: string;
  options?: string[];
}

/**
 * The directories of an overlayfs (or bind) rootfs, top layer first, so files
 * such as /etc/passwd can be read without mounting anything.
 */
export function rootfsLayers(mounts: MountLike[]): string[] {
  const m = mounts[0];
  if (!m) return [];
  if (m.type === 'bind') return m.source ? [m.source] : [];
  const opt = (k: string) => m.options?.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  const upper = opt('upperdir');
  const lower = opt('lowerdir')?.split(':') ?? [];
  return [...(upper ? [upper] : []), ...lower];
}

/**
 * Reads a file of the container's rootfs through its layers (top first); an
 * overlay whiteout or absence gives undefined. Symlinks inside the rootfs are not
 * followed across layers: /etc/passwd and /etc/group are regular files in practice.
 */
export async function readRootfsFile(mounts: MountLike[], path: string): Promise<string | undefined> {
  for (const dir of rootfsLayers(mounts)) {
    try {
      return await readFile(join(dir, path), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
  }
  return undefined;
}
