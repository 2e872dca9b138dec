import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, type Pack } from 'tar-stream';
import { entry, fileEntry, type EntryHeader } from '../../archives/tar-pack';

/** A regular file without content (tar-stream waits for a body unless given one). */
function emptyFile(p: Pack, h: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => p.entry({ ...h, type: 'file', size: 0 }, Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
}

/** aufs-style whiteouts, the Docker layer format (moby pkg/archive). */
export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

export interface UpperDiffOptions {
  /** The overlay upper directory of the container's snapshot. */
  upper: string;
  /**
   * Container paths left out while they are empty mount points (the runtime's /proc, /sys, /dev,
   * /etc/hosts ... and the container's own mount targets): dockerd keeps those in its init layer.
   */
  hidden: Set<string>;
  /** True when a lower layer has a directory at the container path (an opaque marker matters only then). */
  lowerIsDir: (path: string) => boolean;
  /** Reads one extended attribute; undefined when absent. */
  xattr: (hostPath: string, name: string) => Promise<string | undefined>;
  signal?: AbortSignal;
}

/**
 * The tar of a container's writable layer as dockerd's overlay2 driver makes it (`docker commit`, a
 * build step): the upper directory walked in lexical order, names relative to the root, directories
 * with a trailing slash; an overlay whiteout (char device 0/0) becomes an empty `.wh.<name>` file and an
 * opaque directory gets a `.wh..wh..opq` entry. `onEntry` counts what was written (0 entries: the commit
 * changed nothing, Docker's empty layer).
 */
export async function* upperDiffTar(o: UpperDiffOptions, stats: { entries: number; skipped?: string[] } = { entries: 0 }): AsyncIterable<Buffer> {
  const p = pack();
  let failed: Error | undefined;
  const producer = (async () => {
    await walk(p, o, o.upper, '', stats);
    p.finalize();
  })().catch((err: Error) => {
    failed = err;
    p.destroy(err);
  });
  try {
    for await (const chunk of p as AsyncIterable<Buffer>) yield chunk;
    await producer;
    if (failed) throw failed;
  } finally {
    if (!p.destroyed) p.destroy();
    await Promise.race([producer, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}

async function hasVisibleContent(o: UpperDiffOptions, host: string, path: string): Promise<boolean> {
  for (const n of await readdir(host)) {
    const child = `${path}/${n}`;
    if (!o.hidden.has(child)) return true;
    const st = await lstat(join(host, n));
    if (!st.isDirectory() ? st.size > 0 || !st.isFile() : await hasVisibleContent(o, join(host, n), child)) return true;
  }
  return false;
}

async function walk(p: Pack, o: UpperDiffOptions, hostDir: string, rel: string, stats: { entries: number; skipped?: string[] }): Promise<void> {
  for (const n of (await readdir(hostDir)).sort()) {
    if (o.signal?.aborted) throw new Error('commit cancelled');
    const host = join(hostDir, n);
    const name = rel === '' ? n : `${rel}/${n}`;
    const path = `/${name}`;
    const st = await lstat(host);
    if (o.hidden.has(path)) {
      const empty = st.isDirectory() ? !(await hasVisibleContent(o, host, path)) : st.isFile() && st.size === 0;
      if (empty) {
        stats.skipped?.push(host);
        continue;
      }
    }
    const base: EntryHeader = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    stats.entries++;
    if (st.isCharacterDevice() && st.rdev === 0) {
      await emptyFile(p, { ...base, name: rel === '' ? `${WHITEOUT_PREFIX}${n}` : `${rel}/${WHITEOUT_PREFIX}${n}`, mode: 0 });
    } else if (st.isDirectory()) {
      await entry(p, { ...base, name: `${name}/`, type: 'directory' });
      if (o.lowerIsDir(path) && (await o.xattr(host, 'trusted.overlay.opaque')) === 'y') {
        stats.entries++;
        await emptyFile(p, { ...base, name: `${name}/${WHITEOUT_OPAQUE}`, mode: st.mode & 0o777 });
      }
      await walk(p, o, host, name, stats);
    } else if (st.isSymbolicLink()) {
      await entry(p, { ...base, type: 'symlink', linkname: await readlink(host) });
    } else if (st.isFile()) {
      await fileEntry(p, { ...base, type: 'file', size: st.size }, host);
    } else if (st.isFIFO()) {
      await entry(p, { ...base, type: 'fifo' });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const devmajor = Math.floor(st.rdev / 256) & 0xfff;
      const devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
      await entry(p, { ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor });
    } else {
      stats.entries--; // sockets: Docker's archiver skips them
    }
  }
}
