import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { requireCommand } from './deps';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const base = dir.replace(/\/+$/, '');
  const points = mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(' ')[4]))
    .filter((p) => p === base || p.startsWith(base + '/'));
  // A path can be mounted over several times; each umount removes one layer.
  return points.sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/**
 * Unmounts everything at or below `dir` (overlay rootfs of tasks, snapshot
 * mounts), falling back to a lazy unmount for busy mounts. Throws if anything stays.
 */
export function unmountAllUnder(dir: string): void {
  const umount = requireCommand('umount', 'mount');
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const p of points) {
      try {
        execFileSync(umount, [p], { stdio: 'ignore' });
      } catch {
        try {
          execFileSync(umount, ['-l', p], { stdio: 'ignore' });
        } catch {
          // already gone (unmounted with its parent) or not ours to remove; re-read and retry
        }
      }
    }
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`could not unmount: ${left.join(', ')}`);
}
