import { chmod, link, lchown, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { constants } from 'node:fs';
import { extract, type Header } from 'tar-stream';
import { InvalidArgumentError } from '@drydock/errors';
import { resolveInRoot as lexicalResolve } from '../images/tar-validator';
import { resolveInRoot } from './root-path';

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory and vice versa (docker cp's default). */
  noOverwriteDirNonDir: boolean;
  /** Keep the tar's uid/gid; otherwise everything belongs to the container's root (0:0). */
  copyUidGid: boolean;
  /**
   * The tar is an image layer: its whiteouts are applied, never written (OCI image-spec layer
   * changesets; dockerd's pkg/archive UnpackLayer): `.wh.NAME` removes NAME, `.wh..wh..opq`
   * empties its directory of what earlier layers put there, other `/.wh..wh.*` (AUFS metadata)
   * is skipped.
   */
  layer?: boolean;
}

/**
 * Extracts a tar stream into the directory `dest` (absolute inside the
 * container) of the container root `root` (a host path), with the semantics of
 * Docker's archive.Untar under its chroot: entry names are cleaned and must stay
 * under `dest` ("x" is outside of "dest"), every parent directory is resolved
 * inside the container root (symlinks included, so nothing lands outside the
 * container), missing parents are created 0755, an existing entry is replaced
 * (a directory kept when the entry is one too). Directory times are set last,
 * as the files written into them would change them. Device entries are skipped:
 * creating devices in a container is not something cp should do.
 */
export async function extractInto(root: string, dest: string, tar: AsyncIterable<Buffer>, opts: ExtractOptions): Promise<void> {
  const ex = extract();
  let feedError: unknown;
  const feeding = (async () => {
    for await (const chunk of tar) {
      if (ex.destroyed) return;
      if (!ex.write(chunk)) {
        await new Promise<void>((r) => {
          const done = () => {
            ex.off('drain', done);
            ex.off('close', done);
            r();
          };
          ex.on('drain', done);
          ex.on('close', done);
        });
      }
    }
    ex.end(undefined as unknown as Buffer);
  })().catch((err) => {
    feedError = err;
    ex.destroy(err);
  });
  const dirTimes: { host: string; mtime: Date }[] = [];
  const destParts = dest.split('/').filter((p) => p);
  // host paths this layer wrote: an opaque whiteout later in the same tar keeps them
  const unpacked = opts.layer ? new Set<string>() : undefined;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      try {
        await writeEntry(root, dest, destParts, h, entry as AsyncIterable<Buffer>, opts, dirTimes, unpacked);
      } finally {
        entry.resume(); // whatever was not read is skipped
      }
    }
  } catch (err) {
    ex.destroy();
    throw feedError ?? describe(err);
  }
  await feeding;
  if (feedError) throw feedError;
  for (const d of dirTimes.reverse()) await utimes(d.host, d.mtime, d.mtime).catch(() => undefined);
}

function describe(err: unknown): unknown {
  const e = err as Error;
  if (e && /Invalid tar header|Unexpected end of data|invalid/i.test(e.message) && !(e instanceof InvalidArgumentError)) {
    return new InvalidArgumentError(`invalid tar: ${e.message}`, { cause: err });
  }
  return err;
}

async function writeEntry(
  root: string,
  dest: string,
  destParts: string[],
  h: Header,
  body: AsyncIterable<Buffer>,
  opts: ExtractOptions,
  dirTimes: { host: string; mtime: Date }[],
  unpacked?: Set<string>,
): Promise<void> {
  const rel = lexicalResolve(h.name);
  if (!rel || h.name.includes('\0')) throw new InvalidArgumentError(`${JSON.stringify(h.name)} is outside of ${JSON.stringify(dest)}`);
  if (rel.length === 0) return; // "./": the destination itself
  const base = rel[rel.length - 1];
  if (unpacked && rel[0].startsWith(WH_META) && base !== WH_OPAQUE) return;
  const parts = [...destParts, ...rel];
  const parentHost = await ensureDir(root, '/' + parts.slice(0, -1).join('/'));
  const host = `${parentHost}/${parts[parts.length - 1]}`;
  if (unpacked && base.startsWith(WH_PREFIX)) {
    if (base === WH_OPAQUE) await removeLower(parentHost, unpacked);
    else {
      const target = base.slice(WH_PREFIX.length);
      // `.wh..` would name the parent: dockerd only gets away with it inside its chroot
      if (target === '' || target === '.' || target === '..') throw new InvalidArgumentError(`invalid whiteout ${JSON.stringify(h.name)}`);
      // lstat-level removal: a whited-out symlink goes, not what it points at
      await rm(`${parentHost}/${target}`, { recursive: true, force: true });
    }
    return;
  }
  if (unpacked) for (let p = host; p.length > root.length && !unpacked.has(p); p = p.slice(0, p.lastIndexOf('/'))) unpacked.add(p);
  const containerPath = '/' + parts.join('/');
  const isDir = h.type === 'directory';

  let existing;
  try {
    existing = await lstat(host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing) {
    if (opts.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
      throw new InvalidArgumentError(`cannot overwrite directory ${JSON.stringify(containerPath)} with non-directory ${JSON.stringify(dest)}`);
    }
    if (opts.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
      throw new InvalidArgumentError(`cannot overwrite non-directory ${JSON.stringify(containerPath)} with directory ${JSON.stringify(dest)}`);
    }
    if (!(existing.isDirectory() && isDir)) await rm(host, { recursive: true, force: true });
  }

  const mode = h.mode ?? 0o644;
  switch (h.type) {
    case 'directory':
      if (!existing) await mkdir(host, { mode: 0o755 });
      break;
    case 'file':
    case 'contiguous-file': {
      const fh = await open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of body) await fh.write(chunk);
      } finally {
        await fh.close();
      }
      break;
    }
    case 'symlink':
      await symlink(h.linkname, host);
      break;
    case 'link': {
      const target = lexicalResolve(h.linkname);
      if (!target || h.linkname.includes('\0')) throw new InvalidArgumentError(`${JSON.stringify(h.linkname)} is outside of ${JSON.stringify(dest)}`);
      const t = await resolveInRoot(root, '/' + [...destParts, ...target].join('/'), false);
      await link(t.hostPath, host);
      break;
    }
    default:
      return; // devices and fifos: skipped
  }
  const uid = opts.copyUidGid ? h.uid ?? 0 : 0;
  const gid = opts.copyUidGid ? h.gid ?? 0 : 0;
  await lchown(host, uid, gid);
  if (h.type === 'link') return;
  if (h.type !== 'symlink') await chmod(host, mode & 0o7777);
  const mtime = h.mtime ?? new Date();
  if (isDir) dirTimes.push({ host, mtime });
  else await lutimes(host, mtime, mtime);
}

/** An opaque whiteout: removes under `dir` what this layer did not write (`written` holds its paths and their parents). */
async function removeLower(dir: string, written: Set<string>): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const c = `${dir}/${e.name}`;
    if (!written.has(c)) await rm(c, { recursive: true, force: true });
    else if (e.isDirectory()) await removeLower(c, written);
  }
}

const WH_PREFIX = '.wh.';
const WH_META = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';

/** Resolves a directory inside the container root, creating missing components (0755); returns its host path. */
export async function ensureDir(root: string, containerDir: string): Promise<string> {
  const parts = containerDir.split('/').filter((p) => p);
  let cur = '/';
  for (const part of parts) {
    const r = await resolveInRoot(root, `${cur === '/' ? '' : cur}/${part}`, true);
    try {
      const st = await lstat(r.hostPath);
      if (!st.isDirectory()) throw new InvalidArgumentError(`cannot create directory ${r.containerPath}: not a directory`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(r.hostPath, { mode: 0o755 });
    }
    cur = r.containerPath;
  }
  return (await resolveInRoot(root, cur, true)).hostPath;
}
