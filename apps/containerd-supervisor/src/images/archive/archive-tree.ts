import { InvalidArgumentError } from '@drydock/errors';
import { resolveInRoot } from '../tar-validator';

/**
 * The files of an uploaded `docker load` archive without writing them to disk:
 * a path -> node map with the lookups moby's loader does on its extracted
 * temporary directory (safePath = symlink.FollowSymlinkInScope): symlinks are
 * followed but never leave the archive (absolute targets start at its root,
 * `..` stops at it); a path that climbs out before any symlink is refused.
 */
export type TreeNode<F> = { kind: 'dir' } | { kind: 'file'; file: F } | { kind: 'symlink'; target: string };

const MAX_LINKS = 255;

export class ArchiveTree<F> {
  private readonly nodes = new Map<string, TreeNode<F>>();

  /** Records an entry under its cleaned name (the caller has checked it stays inside). */
  set(name: string, node: TreeNode<F>): void {
    const parts = resolveInRoot(name) ?? [];
    if (parts.length === 0) return;
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.nodes.has(dir)) this.nodes.set(dir, { kind: 'dir' });
    }
    this.nodes.set(parts.join('/'), node);
  }

  /** The file at `path` (as written in manifest.json), following symlinks in scope; undefined if there is none. */
  file(path: string): F | undefined {
    if (path.split('/').reduce((depth, p) => (depth < 0 ? depth : p === '..' ? depth - 1 : p === '' || p === '.' ? depth : depth + 1), 0) < 0) {
      // filepath.Join(base, path) left the base before any symlink was looked at
      throw new InvalidArgumentError(`evalSymlinksInScope: ${path} is not in the archive`);
    }
    const node = this.lookup(path);
    return node?.kind === 'file' ? node.file : undefined;
  }

  /** Looks a path up without the climb check (hardlink targets), following symlinks in scope. */
  lookup(path: string): TreeNode<F> | undefined {
    let pending = path.split('/');
    let resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const here = [...resolved, part].join('/');
      const node = this.nodes.get(here);
      if (node?.kind === 'symlink') {
        if (++links > MAX_LINKS) throw new InvalidArgumentError('evalSymlinksInScope: too many links');
        if (node.target.startsWith('/')) resolved = [];
        pending = [...node.target.split('/'), ...pending];
        continue;
      }
      resolved.push(part);
    }
    return resolved.length === 0 ? { kind: 'dir' } : this.nodes.get(resolved.join('/'));
  }
}
