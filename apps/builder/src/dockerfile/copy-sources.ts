import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { InvalidArgumentError } from '@drydock/errors';
import { walkTree, type BuildContext } from '../context/build-context';
import { cleanRel, resolveScoped } from '../context/scoped-path';
import { hashStringSlice, tarsumHash } from '../context/tarsum';
import { containsWildcards, pathMatch } from './path-match';

/** A tree COPY/ADD reads from: the build context, an image's files fetched for --from, a download. */
export interface SourceTree {
  root: string;
  /** True for the build context (its errors mention .dockerignore). */
  isContext: boolean;
  hash(rel: string): Promise<string>;
  /** The hash of a path known to be resolved already (from walk). */
  hashExact(rel: string): Promise<string>;
  resolve(rel: string): Promise<{ rel: string; hostPath: string }>;
  walk(rel?: string): Promise<string[]>;
}

/** One resolved source of a COPY/ADD (dockerd's copyInfo). */
export interface CopyInfo {
  tree: SourceTree;
  /** The path as resolved for copying (relative to the tree's root), and as written (its base names the copy). */
  rel: string;
  origPath: string;
  hash: string;
  noDecompress?: boolean;
}

export function contextTree(ctx: BuildContext): SourceTree {
  return {
    root: ctx.root,
    isContext: true,
    hash: async (rel) => ctx.hash((await ctx.resolve(rel)).rel),
    hashExact: async (rel) => ctx.hash(rel),
    resolve: (rel) => ctx.resolve(rel),
    walk: (rel) => ctx.walk(rel),
  };
}

/** A tree on disk hashed lazily from its files (dockerd's lazySource: tarsum of the stat'ed header + content). */
export function localTree(root: string): SourceTree {
  const sums = new Map<string, string>();
  const tree: SourceTree = {
    root,
    hashExact: (rel) => tree.hash(rel),
    isContext: false,
    resolve: (rel) => resolveScoped(root, rel, true),
    walk: (rel = '') => walkTree(root, rel),
    hash: async (rel) => {
      const r = cleanRel(rel);
      const cached = sums.get(r);
      if (cached) return cached;
      const host = join(root, r);
      const st = await lstat(host).catch(() => undefined);
      if (!st) return r;
      const h = tarsumHash({
        name: st.isDirectory() ? `${r}/` : r,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: st.isFile() ? st.size : 0,
        typeflag: st.isDirectory() ? '5' : st.isSymbolicLink() ? '2' : '0',
        linkname: st.isSymbolicLink() ? await readlink(host) : '',
      });
      if (st.isFile() && st.size > 0) {
        await pipeline(
          createReadStream(host),
          new Writable({
            write(chunk: Buffer, _e, cb) {
              h.update(chunk);
              cb();
            },
          }),
        );
      }
      const sum = h.digest('hex');
      sums.set(r, sum);
      return sum;
    },
  };
  return tree;
}

const notFound = (tree: SourceTree, path: string) =>
  new InvalidArgumentError(tree.isContext ? `file not found in build context or excluded by .dockerignore: stat ${path}: file does not exist` : `stat ${path}: file does not exist`);

/** calcCopyInfo: one source path (globs expanded) into copy infos with their cache hashes. */
export async function calcCopyInfo(tree: SourceTree, orig: string, allowWildcards = true): Promise<CopyInfo[]> {
  let origPath = orig.replace(/^\//, '').replace(/^\.\//, '');
  if (allowWildcards && containsWildcards(origPath)) {
    const out: CopyInfo[] = [];
    for (const rel of await tree.walk()) {
      if (pathMatch(origPath, rel)) out.push(...(await calcCopyInfo(tree, rel, false)));
    }
    return out;
  }
  if (origPath === '') origPath = '.';
  const r = await tree.resolve(origPath);
  const st = await lstat(r.hostPath).catch(() => undefined);
  if (!st) throw notFound(tree, origPath);
  if (!st.isDirectory()) return [{ tree, rel: r.rel, origPath, hash: `file:${await tree.hash(r.rel)}` }];
  const subs: string[] = [];
  for (const child of await tree.walk(r.rel)) subs.push(await tree.hashExact(child));
  subs.sort();
  return [{ tree, rel: r.rel, origPath, hash: hashStringSlice('dir', subs) }];
}

/** getSourceHashFromInfos: one source keeps its own hash, several are hashed together. */
export function sourceHash(infos: CopyInfo[]): string {
  if (infos.length === 1) return infos[0].hash;
  return hashStringSlice('multi', infos.map((i) => i.hash));
}
