import { lstat, readlink } from 'node:fs/promises';
import { InvalidArgumentError } from '@drydock/errors';

/**
 * moby's ResolveScopedPath / FollowSymlinkInScope for a directory tree on this host (the build
 * context, a source tree copied from an image): `..` never climbs above `root` and symlink targets are
 * re-rooted at it, so a link pointing outside resolves inside. Missing components stay as written.
 * (The supervisor has the same resolver for container roots; services share no code but libs.)
 */
export async function resolveScoped(root: string, path: string, followLast = true): Promise<{ rel: string; hostPath: string }> {
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
    if (missing || (isLast && !followLast && queue.length === 0)) {
      resolved.push(part);
      continue;
    }
    const host = join(root, [...resolved, part]);
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
    if (++links > 40) throw new InvalidArgumentError(`too many levels of symbolic links: ${path}`);
    const target = await readlink(host);
    if (target.startsWith('/')) resolved.length = 0;
    queue.unshift(...target.split('/'));
  }
  return { rel: resolved.join('/'), hostPath: join(root, resolved) };
}

function join(root: string, parts: string[]): string {
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  return parts.length === 0 ? base : `${base}/${parts.join('/')}`;
}

/** Go's path.Clean of a relative path: "" and "." become ".", `..` above the start is kept. */
export function cleanRel(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return out.length ? out.join('/') : '.';
}
