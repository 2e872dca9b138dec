import { spawn } from 'node:child_process';
import { chmodSync, createReadStream, createWriteStream, lchownSync, lutimesSync, mkdirSync, readdirSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, open, readdir, readFile, rm, symlink, utimes, lutimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { InvalidArgumentError } from '@drydock/errors';
import { cleanRel, resolveScoped } from './scoped-path';
import { tarsumHash } from './tarsum';

const TYPEFLAG: Record<string, string> = { file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6' };

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz';

/** Files up to this size are written in one call. */
const SMALL_FILE = 256 * 1024;

/**
 * Writes a small file with `mode` (umask applied); an existing entry at the path is replaced. Synchronous
 * on purpose: a context is mostly small files, and a thread-pool hop per open/write/close/utimes cost
 * more than the writes themselves (2,000 files: seconds instead of tens of ms); the caller yields per entry.
 */
function writeFileFresh(path: string, data: Buffer, mode: number): void {
  try {
    writeFileSync(path, data, { mode, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    rmSync(path, { recursive: true, force: true });
    writeFileSync(path, data, { mode, flag: 'wx' });
  }
}

function ignoreErr(fn: () => void): void {
  try {
    fn();
  } catch {
    // as the async variants' .catch(() => undefined): ownership and times are best effort
  }
}

/** archive.DetectCompression: by the first bytes. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/** A decompressing stream for the file (gzip in-process; bzip2 and xz by Debian's bzip2 and xz-utils). */
export async function openDecompressed(path: string): Promise<Readable> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(6);
  const { bytesRead } = await fh.read(head, 0, 6, 0);
  await fh.close();
  const kind = detectCompression(head.subarray(0, bytesRead));
  const raw = createReadStream(path);
  if (kind === 'none') return raw;
  if (kind === 'gzip') return raw.pipe(createGunzip());
  const child = spawn(kind === 'bzip2' ? 'bzip2' : 'xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (err) => child.stdout.destroy(new InvalidArgumentError(`cannot decompress the build context (${kind}): ${err.message}; install the Debian package ${kind === 'bzip2' ? 'bzip2' : 'xz-utils'}`)));
  child.on('exit', (code) => {
    if (code !== 0) child.stdout.destroy(new InvalidArgumentError(`cannot decompress the build context (${kind}): ${stderr.trim() || `exit ${code}`}`));
  });
  raw.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  return child.stdout;
}

export interface ExtractLimits {
  /** Bytes of file content the extracted context may hold. */
  maxBytes: number;
}

/**
 * The build context on the builder's disk: dockerd's archiveContext (the tar extracted, each entry's
 * tarsum kept as the cache key of COPY/ADD sources). Paths resolve inside the root, never outside.
 */
export class BuildContext {
  private constructor(
    readonly root: string,
    private readonly sums: Map<string, string>,
  ) {}

  /** Extracts a (possibly compressed) context tar file into `root`. Entries escaping the root are refused. */
  static async extract(tarFile: string, root: string, limits: ExtractLimits): Promise<BuildContext> {
    await mkdir(root, { recursive: true });
    const sums = new Map<string, string>();
    const ex = extract();
    let bytes = 0;
    const dirTimes: [string, Date][] = [];
    const made = new Set<string>([root]);
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const consume = (async () => {
      for await (const entry of ex) {
        const h = entry.header;
        const rel = entryName(h.name);
        if (rel === undefined) {
          entry.resume();
          throw new InvalidArgumentError(`Error processing tar file: ${JSON.stringify(h.name)} is outside of the build context`);
        }
        const target = join(root, rel);
        const hash = tarsumHash({
          name: h.name,
          mode: (h.mode ?? 0) & 0o7777,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          size: h.type === 'file' || h.type === 'contiguous-file' ? h.size ?? 0 : 0,
          typeflag: TYPEFLAG[h.type ?? 'file'] ?? '0',
          linkname: h.linkname ?? '',
          devmajor: h.devmajor ?? 0,
          devminor: h.devminor ?? 0,
          xattrs: (h.pax ? Object.fromEntries(Object.entries(h.pax).filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => [k.slice(13), v])) : undefined),
        });
        if (rel !== '.') {
          const parent = dirname(target);
          if (!made.has(parent)) {
            mkdirSync(parent, { recursive: true });
            made.add(parent);
          }
        }
        let fresh = false;
        let small = false;
        switch (h.type) {
          case 'directory':
            if (!made.has(target)) mkdirSync(target, { recursive: true });
            made.add(target);
            dirTimes.push([target, h.mtime ?? new Date()]);
            entry.resume();
            break;
          case 'symlink':
            await rm(target, { recursive: true, force: true });
            await symlink(h.linkname ?? '', target);
            entry.resume();
            break;
          case 'link': {
            const from = entryName(h.linkname ?? '');
            if (from === undefined) throw new InvalidArgumentError(`Error processing tar file: invalid hardlink ${JSON.stringify(h.linkname)} -> outside of the build context`);
            await rm(target, { recursive: true, force: true });
            await link(join(root, from), target);
            entry.resume();
            break;
          }
          case 'file':
          case 'contiguous-file':
          case undefined: {
            const size = h.size ?? 0;
            bytes += size;
            if (bytes > limits.maxBytes) throw new InvalidArgumentError(`the build context is larger than the limit of ${limits.maxBytes} bytes (DRYDOCK_BUILD_CONTEXT_MAX_BYTES)`);
            const mode = (h.mode ?? 0o644) & 0o7777;
            if (size <= SMALL_FILE) {
              // most context files are small: one write, no stream per file
              const chunks: Buffer[] = [];
              for await (const c of entry) chunks.push(c as Buffer);
              const data = Buffer.concat(chunks);
              hash.update(data);
              writeFileFresh(target, data, mode);
              small = true;
            } else {
              await rm(target, { recursive: true, force: true });
              entry.on('data', (d: unknown) => void hash.update(d as Buffer));
              await pipeline(entry, createWriteStream(target, { mode: 0o600 }));
            }
            fresh = size <= SMALL_FILE && (mode & 0o022) === 0 && (mode & 0o7000) === 0;
            break;
          }
          default:
            // devices and fifos are of no use to COPY: skipped, as a non-root dockerd would fail on them
            entry.resume();
            continue;
        }
        // modes the umask could not have changed are already right; root's own files need no chown
        const mtime = h.mtime ?? new Date();
        if (small || h.type === 'directory') {
          if (!fresh) chmodSync(target, (h.mode ?? 0o644) & 0o7777);
          if ((h.uid ?? 0) !== uid || (h.gid ?? 0) !== gid) ignoreErr(() => lchownSync(target, h.uid ?? 0, h.gid ?? 0));
          if (h.type !== 'directory') ignoreErr(() => lutimesSync(target, mtime, mtime));
        } else {
          if (h.type !== 'symlink' && !fresh) await chmod(target, (h.mode ?? 0o644) & 0o7777);
          if ((h.uid ?? 0) !== uid || (h.gid ?? 0) !== gid) await lchown(target, h.uid ?? 0, h.gid ?? 0).catch(() => undefined);
          await lutimes(target, mtime, mtime).catch(() => undefined);
        }
        sums.set(rel, hash.digest('hex'));
      }
    })();
    const input = await openDecompressed(tarFile);
    try {
      await Promise.all([pipeline(input, ex), consume]);
    } catch (err) {
      input.destroy();
      ex.destroy();
      await consume.catch(() => undefined);
      if (err instanceof InvalidArgumentError) throw err;
      throw new InvalidArgumentError(`Error processing tar file: ${(err as Error).message}`, { cause: err });
    }
    for (const [d, t] of dirTimes.reverse()) await utimes(d, t, t).catch(() => undefined);
    return new BuildContext(root, sums);
  }

  /** Hash of a context path (its tarsum), the path itself for one the tar did not carry (dockerd's backwards compat). */
  hash(rel: string): string {
    return this.sums.get(cleanRel(rel)) ?? rel;
  }

  /** Resolves a path of the context (symlinks followed inside it). */
  resolve(rel: string): Promise<{ rel: string; hostPath: string }> {
    return resolveScoped(this.root, rel, true);
  }

  async remove(rel: string): Promise<void> {
    const r = await resolveScoped(this.root, rel, false);
    if (r.rel === '') return;
    await rm(r.hostPath, { recursive: true, force: true });
    this.sums.delete(r.rel);
  }

  async readFile(rel: string): Promise<Buffer | undefined> {
    const r = await this.resolve(rel);
    const st = await lstat(r.hostPath).catch(() => undefined);
    if (!st || st.isDirectory()) return undefined;
    return readFile(r.hostPath);
  }

  /** Every path below `rel` (relative to the root), parents before children, sorted like filepath.Walk. */
  async walk(rel = ''): Promise<string[]> {
    return walkTree(this.root, rel);
  }
}

/**
 * Every path below `rel` of a host tree, parents before children, sorted like filepath.Walk. Directory
 * entry types (no lstat per entry) read synchronously, a directory at a time: one thread-pool hop per
 * entry made a 2,000-file COPY spend most of its time waiting.
 */
export async function walkTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const go = async (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(root, dir), { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = dir ? `${dir}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await go(r);
    }
    // a huge tree must not hold the event loop (other builds' output, job lock renewals)
    await new Promise<void>((r) => setImmediate(r));
  };
  await go(rel);
  return out;
}

/** The tar entry's path inside the root ('.' for the root), or undefined when it climbs out. */
export function entryName(name: string): string | undefined {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.length ? parts.join('/') : '.';
}

