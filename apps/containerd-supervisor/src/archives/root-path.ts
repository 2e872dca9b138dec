import { lstat, readlink } from 'node:fs/promises';
import { InvalidArgumentError } from '@drydock/errors';

/** Linux's limit on symlinks followed in one lookup (ELOOP past it). */
const MAX_SYMLINKS = 40;

export interface ResolvedPath {
  /** Clean absolute path inside the container, symlinks resolved. */
  containerPath: string;
  /** The same path on the host: `root` + containerPath. */
  hostPath: string;
}

/**
 * Resolves `path` (absolute inside the container) against the container's root
 * directory `root` on the host, one component at a time like moby's
 * FollowSymlinkInScope / securejoin: `..` never climbs above the root, and a
 * symlink's target is re-rooted at `root` (absolute targets) or taken from the
 * link's directory (relative ones), so `ln -s / x` stays inside the container.
 * The host kernel never follows a link of the container's: every component
 * handed back exists as a non-link (or does not exist).
 *
 * The last component is not followed unless `followLast` (Docker: a path ending
 * in `/` or `/.` follows it). Missing components are kept lexically (the caller's
 * lstat then reports ENOENT). More than 40 links: InvalidArgumentError.
 */
export async function resolveInRoot(root: string, path: string, followLast: boolean): Promise<ResolvedPath> {
  const queue = path.split('/');
  const resolved: string[] = [];
  let links = 0;
  let missing = false;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isLast = queue.every((p) => p === '');
    // "a/" means the directory a: follow it even though it is the last name
    const trailing = queue.length > 0;
    if (missing || (isLast && !followLast && !trailing)) {
      resolved.push(part);
      continue;
    }
    const host = joinRoot(root, [...resolved, part]);
    let isLink = false;
    try {
      isLink = (await lstat(host)).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      missing = true;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`too many levels of symbolic links: ${path}`);
    const target = await readlink(host);
    if (target.startsWith('/')) resolved.length = 0;
    queue.unshift(...target.split('/'));
  }
  return { containerPath: '/' + resolved.join('/'), hostPath: joinRoot(root, resolved) };
}

/** The root itself ends in "/": /proc/<pid>/root is a magic link that lstat must look through. */
function joinRoot(root: string, parts: string[]): string {
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  return parts.length === 0 ? `${base}/` : `${base}/${parts.join('/')}`;
}

/** Go's path.Clean for an absolute container path ("" -> "/"). */
export function cleanContainerPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}
