import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Docker's change kinds (docker diff: C, A, D). */
export enum ChangeKind {
  Modified = 0,
  Added = 1,
  Deleted = 2,
}

export interface Change {
  path: string;
  kind: ChangeKind;
}

/** One entry of an overlay upper directory, as the walker saw it. */
export interface UpperEntry {
  /** Absolute path inside the container. */
  path: string;
  type: 'dir' | 'file' | 'whiteout' | 'other';
  /** Directory marked trusted.overlay.opaque=y (its lower content is hidden). */
  opaque?: boolean;
  size: number;
  /** Permission + type bits, to tell a changed directory from a merely copied-up one. */
  mode: number;
}

/** What a lower layer has at a path (top layer first), or undefined. */
export type LowerLookup = (path: string) => { type: 'dir' | 'other'; mode: number } | undefined;

/** Mount points the runtime creates in the writable layer; Docker keeps them in its init layer, so diff never shows them. */
export const RUNTIME_MOUNTPOINTS = ['/dev', '/proc', '/sys', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/mtab', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console'];

/**
 * docker diff from an overlay upper dir (moby's OverlayChanges): a whiteout
 * (char device 0/0) is a deletion, an opaque directory is reported deleted as
 * moby does (its lower content is gone; what is in it now shows as added or
 * modified below it), anything present in a lower layer is modified, the rest
 * added. Directories present in both with the same mode are not changes by
 * themselves; every ancestor of a change is listed as modified, as Docker does.
 * `hidden` paths (runtime mount points, the container's mount targets) are left
 * out when they are only empty mount points. Sorted by path, component-wise.
 */
export function classifyChanges(entries: UpperEntry[], lower: LowerLookup, hidden: Set<string>): Change[] {
  const out = new Map<string, ChangeKind>();
  const markParents = (p: string) => {
    for (let dir = parentOf(p); dir !== '/'; dir = parentOf(dir)) {
      if (!out.has(dir)) out.set(dir, ChangeKind.Modified);
    }
  };
  for (const e of entries) {
    if (hidden.has(e.path) && e.type !== 'whiteout' && e.size === 0 && (e.type === 'dir' ? !entries.some((x) => x.path.startsWith(e.path + '/') && !hidden.has(x.path)) : e.type === 'file')) continue;
    let kind: ChangeKind | undefined;
    if (e.type === 'whiteout' || (e.type === 'dir' && e.opaque)) kind = ChangeKind.Deleted;
    else {
      const l = lower(e.path);
      if (!l) kind = ChangeKind.Added;
      else if (e.type === 'dir' && l.type === 'dir' && (l.mode & 0o7777) === (e.mode & 0o7777)) kind = undefined; // copied up for a child
      else kind = ChangeKind.Modified;
    }
    if (kind === undefined) continue;
    out.set(e.path, kind);
    markParents(e.path);
  }
  return [...out.entries()].map(([path, kind]) => ({ path, kind })).sort((a, b) => comparePaths(a.path, b.path));
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Component-wise order (filepath.Walk's): /a, /a/b, /a-b. */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

/** Reads an overlay upper directory into UpperEntry rows (whiteouts and opaque markers included). */
export async function walkUpper(upper: string, getXattr: (path: string, name: string) => Promise<string | undefined>): Promise<UpperEntry[]> {
  const out: UpperEntry[] = [];
  const walk = async (hostDir: string, containerDir: string): Promise<void> => {
    const names = (await readdir(hostDir)).sort();
    for (const n of names) {
      const host = join(hostDir, n);
      const path = containerDir === '/' ? `/${n}` : `${containerDir}/${n}`;
      let st;
      try {
        st = await lstat(host);
      } catch {
        continue; // removed meanwhile (running container)
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ path, type: 'whiteout', size: 0, mode: st.mode });
      } else if (st.isDirectory()) {
        const opaque = (await getXattr(host, 'trusted.overlay.opaque')) === 'y';
        out.push({ path, type: 'dir', opaque, size: 0, mode: st.mode });
        await walk(host, path);
      } else {
        out.push({ path, type: st.isFile() ? 'file' : 'other', size: st.size, mode: st.mode });
      }
    }
  };
  await walk(upper, '/');
  return out;
}

/** Lower-layer lookup over host directories (top first), by lstat. */
export function lowerLookup(lowers: string[], statSync: (p: string) => { isDirectory(): boolean; mode: number } | undefined): LowerLookup {
  return (path) => {
    for (const dir of lowers) {
      const st = statSync(join(dir, path));
      if (st) return { type: st.isDirectory() ? 'dir' : 'other', mode: st.mode };
    }
    return undefined;
  };
}
