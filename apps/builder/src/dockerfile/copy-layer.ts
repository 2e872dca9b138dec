import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header, type Pack } from 'tar-stream';
import type { ImagePath } from '../backend/ports';
import { openDecompressed } from '../context/build-context';
import type { CopyInfo } from './copy-sources';

/** One entry of a COPY/ADD layer. `name` is absolute in the image. */
interface Entry {
  name: string;
  type: 'directory' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  hostPath?: string;
  linkname?: string;
  size?: number;
}

export interface CopyPlanInput {
  infos: CopyInfo[];
  /** normalizeDest's result: absolute, trailing slash kept. */
  dest: string;
  /** The destination as the parent image has it (symlinks resolved). */
  destInfo: ImagePath;
  /** Owner of what is copied; undefined keeps the sources' owners (COPY --from without --chown). */
  identity?: { uid: number; gid: number };
  /** ADD: local tar archives are extracted. */
  decompress: boolean;
}

/** A planned layer: what it writes and which existing directories of the parent it passes through. */
export interface CopyPlan {
  entries: Entry[];
  /** Local archives to extract: the archive's host path and the directory it goes into. */
  archives: { hostPath: string; into: string }[];
  /** Parent directories of the targets, to be stat'ed in the parent image. */
  parents: string[];
}

const parentOf = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
const baseOf = (p: string) => p.replace(/\/+$/, '').split('/').pop() || p;

/** A file whose first bytes are a (possibly compressed) tar header (dockerd's isArchivePath). */
export async function isArchive(hostPath: string): Promise<boolean> {
  let stream;
  try {
    stream = await openDecompressed(hostPath);
  } catch {
    return false;
  }
  const ex = extract();
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const done = (v: boolean) => {
      if (settled) return;
      settled = true;
      resolve(v);
      stream.destroy();
      ex.destroy();
    };
    ex.on('entry', () => done(true));
    ex.on('error', () => done(false));
    ex.on('finish', () => done(false));
    stream.on('error', () => done(false));
    stream.pipe(ex);
  });
}

/**
 * What performCopyForInfo does on a mounted layer, as a list of tar entries: directories copy their
 * content into the destination, files go to `dest` or, when it ends in `/` or is a directory already,
 * into it under their own base name; ADD extracts local archives into the destination.
 */
export async function planCopy(input: CopyPlanInput): Promise<CopyPlan> {
  const entries: Entry[] = [];
  const archives: CopyPlan['archives'] = [];
  const resolvedDest = input.destInfo.resolved || input.dest;
  const endsInSlash = input.dest.endsWith('/');
  const own = (st: { uid: number; gid: number }) => input.identity ?? { uid: st.uid, gid: st.gid };
  for (const info of input.infos) {
    const host = join(info.tree.root, info.rel);
    const st = await lstat(host);
    if (st.isDirectory()) {
      if (!input.destInfo.exists) entries.push({ name: resolvedDest, type: 'directory', mode: st.mode & 0o7777, ...own(st), mtime: st.mtime });
      await addTree(entries, host, resolvedDest, own);
      continue;
    }
    if (input.decompress && !info.noDecompress && (await isArchive(host))) {
      archives.push({ hostPath: host, into: resolvedDest });
      continue;
    }
    const target = endsInSlash || input.destInfo.isDir ? `${resolvedDest === '/' ? '' : resolvedDest}/${baseOf(info.origPath)}` : resolvedDest;
    entries.push(await fileEntry(host, target, own));
  }
  const parents = new Set<string>();
  for (const e of [...entries.map((x) => x.name), ...archives.map((a) => `${a.into}/x`)]) {
    for (let p = parentOf(e); p !== '/'; p = parentOf(p)) parents.add(p);
  }
  for (const e of entries) if (e.type === 'directory') parents.delete(e.name);
  return { entries, archives, parents: [...parents].sort() };
}

async function fileEntry(host: string, name: string, own: (st: { uid: number; gid: number }) => { uid: number; gid: number }, known?: Stats): Promise<Entry> {
  const st = known ?? (await lstat(host));
  if (st.isSymbolicLink()) return { name, type: 'symlink', mode: st.mode & 0o7777, ...own(st), mtime: st.mtime, linkname: readlinkSync(host) };
  return { name, type: 'file', mode: st.mode & 0o7777, ...own(st), mtime: st.mtime, hostPath: host, size: st.size };
}

/**
 * A source directory's tree as entries. Synchronous stat and readdir, yielding per directory: a
 * thread-pool hop per entry made a COPY of 2,000 small files wait most of its time.
 */
async function addTree(entries: Entry[], hostDir: string, destDir: string, own: (st: { uid: number; gid: number }) => { uid: number; gid: number }): Promise<void> {
  for (const n of readdirSync(hostDir).sort()) {
    const host = join(hostDir, n);
    const name = `${destDir === '/' ? '' : destDir}/${n}`;
    const st = lstatSync(host);
    if (st.isDirectory()) {
      entries.push({ name, type: 'directory', mode: st.mode & 0o7777, ...own(st), mtime: st.mtime });
      await addTree(entries, host, name, own);
    } else if (st.isFile() || st.isSymbolicLink()) {
      entries.push(await fileEntry(host, name, own, st));
    }
  }
  await new Promise<void>((r) => setImmediate(r));
}

/**
 * The layer tar of a plan: the parent directories as the parent image has them (overlay copies them
 * up, so dockerd's layer carries them too) or new ones (0755, owned by the copy's owner), then the entries.
 */
export async function* copyLayerTar(plan: CopyPlan, parents: ImagePath[], identity: { uid: number; gid: number } | undefined): AsyncIterable<Buffer> {
  const p = pack();
  const now = new Date();
  let failed: Error | undefined;
  const producer = (async () => {
    const byPath = new Map(parents.map((x) => [x.path, x]));
    for (const dir of plan.parents) {
      const info = byPath.get(dir);
      const h: Partial<Header> & { name: string } = info?.exists
        ? { name: `${dir.slice(1)}/`, type: 'directory', mode: info.mode, uid: info.uid, gid: info.gid, mtime: new Date(info.mtimeMs) }
        : { name: `${dir.slice(1)}/`, type: 'directory', mode: 0o755, uid: identity?.uid ?? 0, gid: identity?.gid ?? 0, mtime: now };
      await put(p, h);
    }
    for (const e of plan.entries) {
      const name = e.name.slice(1);
      if (e.type === 'directory') await put(p, { name: name === '' ? './' : `${name}/`, type: 'directory', mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime });
      else if (e.type === 'symlink') await put(p, { name, type: 'symlink', linkname: e.linkname, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime });
      else await putFile(p, { name, type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.size }, e.hostPath!);
    }
    for (const a of plan.archives) await putArchive(p, a.hostPath, a.into);
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
  }
}

function put(p: Pack, h: Partial<Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => p.entry({ ...h, size: 0 }, (err) => (err ? reject(err) : resolve())));
}

async function putFile(p: Pack, h: Partial<Header> & { name: string; size?: number }, host: string): Promise<void> {
  if (!h.size || h.size <= 256 * 1024) {
    // small files in one synchronous read (the common case of a context: no thread-pool hops)
    const data = h.size ? readFileSync(host) : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => p.entry({ ...h, size: data.length }, data, (err) => (err ? reject(err) : resolve())));
    return;
  }
  // the size is the one stat saw: a context file does not change under us
  const fh = await open(host, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = p.entry(h, (err) => (err ? reject(err) : resolve()));
      pipeline(createReadStream(host, { fd: fh.fd, autoClose: false }), sink).catch(reject);
    });
  } finally {
    await fh.close();
  }
}

/** ADD of a local archive: its entries under `into`, owners and modes as the archive has them. */
async function putArchive(p: Pack, hostPath: string, into: string): Promise<void> {
  const ex = extract();
  const input = await openDecompressed(hostPath);
  const prefix = into === '/' ? '' : into.slice(1) + '/';
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const rel = h.name.replace(/^\/+/, '').replace(/^\.\//, '');
      if (rel.split('/').includes('..')) {
        entry.resume();
        continue; // dockerd refuses entries climbing out of the destination; they are dropped here
      }
      const name = prefix + rel;
      const header = { ...h, name: name === '' ? './' : name, ...(h.type === 'link' && h.linkname ? { linkname: prefix + h.linkname.replace(/^\/+/, '') } : {}) };
      if (h.type === 'file' || h.type === 'contiguous-file') {
        await new Promise<void>((resolve, reject) => {
          const sink = p.entry({ ...header, type: 'file' }, (err) => (err ? reject(err) : resolve()));
          pipeline(entry, sink).catch(reject);
        });
      } else {
        entry.resume();
        await put(p, header);
      }
    }
  })();
  await Promise.all([pipeline(input, ex), done]);
}
