import { createHash, type Hash } from 'node:crypto';

/** What tarsum v1 hashes of an entry's header (mtime excluded; user and group names blanked). */
export interface TarsumHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** The tar typeflag character: '0' file, '5' dir, '2' symlink, '1' hard link ... */
  typeflag: string;
  linkname: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
}

/**
 * A hash in tarsum v1's form (pkg/tarsum, as the legacy builder keys COPY and ADD sources): sha256 of
 * the selected header fields, then the content. Content, names, modes and owners count; mtimes do not.
 */
export function tarsumHash(h: TarsumHeader): Hash {
  const hash = createHash('sha256');
  const fields: [string, string][] = [
    ['name', h.name],
    ['mode', String(h.mode)],
    ['uid', String(h.uid)],
    ['gid', String(h.gid)],
    ['size', String(h.size)],
    ['typeflag', h.typeflag],
    ['linkname', h.linkname],
    ['uname', ''],
    ['gname', ''],
    ['devmajor', String(h.devmajor ?? 0)],
    ['devminor', String(h.devminor ?? 0)],
  ];
  for (const k of Object.keys(h.xattrs ?? {}).sort()) fields.push([k, h.xattrs![k]]);
  for (const [k, v] of fields) hash.update(k + v);
  return hash;
}

/** hashStringSlice: `prefix:` + sha256 of the hashes joined by commas (dir: and multi: sources). */
export function hashStringSlice(prefix: string, items: string[]): string {
  return `${prefix}:${createHash('sha256').update(items.join(',')).digest('hex')}`;
}
