import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream, isDigest, parseDigest, sha256Digest, verifyDigest } from './digest';
import { RegistryError } from './errors';
import { parseManifest } from './manifest';
import { isTag, validateName, validateTag } from './names';
import { CONTEXT_REPOSITORY_PREFIX } from '@drydock/build-jobs';

/** Where an upload stands: the next byte it expects is `offset`. */
export interface UploadState {
  id: string;
  offset: number;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface Page<T> {
  items: T[];
  /** Set when more items follow: the `last` of the next page. */
  next?: string;
}

interface UploadSession {
  repo: string;
  offset: number;
  // The running hash lives in memory: a chunked upload is hashed once, as it arrives,
  // instead of re-reading the file at the end. Sessions do not survive a restart
  // (their directories are removed at start), as clients expect of a crashed registry.
  hash: Hash;
  busy: boolean;
}

/** One page of a sorted list, distribution-style (`last` exclusive, `n` items). */
export function paginate(sorted: string[], n: number | undefined, last: string | undefined): Page<string> {
  const from = last === undefined ? sorted : sorted.filter((s) => s > last);
  if (n === undefined || from.length <= n) return { items: from };
  const items = from.slice(0, n);
  return { items, next: items[items.length - 1] };
}

/**
 * The content-addressed store behind the registry, laid out like distribution's:
 *   blobs/sha256/<ab>/<hex>                          content (blobs and manifests)
 *   repositories/<name>/_layers/sha256/<hex>         blob links: visible in <name>
 *   repositories/<name>/_manifests/revisions/sha256/<hex>   manifest links (content: media type)
 *   repositories/<name>/_manifests/tags/<tag>        the tag's manifest digest
 *   uploads/<id>                                     in-progress uploads
 *   tmp/                                             files being written before their rename
 * Every file appears by rename(2) from the same filesystem after fsync, so a crash
 * leaves either nothing or the whole, verified content.
 */
export class RegistryStore {
  private readonly uploads = new Map<string, UploadSession>();

  constructor(private readonly root: string) {}

  /** Creates the layout and drops uploads and temp files a previous process left. */
  async init(): Promise<void> {
    await rm(join(this.root, 'uploads'), { recursive: true, force: true });
    await rm(join(this.root, 'tmp'), { recursive: true, force: true });
    for (const d of ['blobs/sha256', 'repositories', 'uploads', 'tmp']) await mkdir(join(this.root, d), { recursive: true });
  }

  // ---- blobs

  /** Size of a blob visible in `repo`, or BLOB_UNKNOWN. */
  async statBlob(repo: string, digest: string): Promise<BlobInfo> {
    validateName(repo);
    const hex = parseDigest(digest);
    const linked = (await exists(this.layerLink(repo, hex))) || (await exists(this.revisionLink(repo, hex)));
    const st = linked ? await stat(this.blobPath(hex)).catch(() => undefined) : undefined;
    if (!st) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    return { digest, size: st.size };
  }

  /** A blob's bytes [start, end] (inclusive); the whole blob without a range. */
  async readBlob(repo: string, digest: string, range?: { start: number; end: number }): Promise<BlobInfo & { stream: Readable }> {
    const info = await this.statBlob(repo, digest);
    const stream = createReadStream(this.blobPath(parseDigest(digest)), range ? { start: range.start, end: range.end } : {});
    return { ...info, stream };
  }

  /** Unlinks a blob from `repo`; the content stays for other repositories (no GC yet). */
  async deleteBlob(repo: string, digest: string): Promise<void> {
    await this.statBlob(repo, digest);
    await unlink(this.layerLink(repo, parseDigest(digest))).catch((err) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Cross-repository mount: links `digest` from `from` into `repo`; false when `from` lacks it. */
  async mountBlob(repo: string, digest: string, from: string): Promise<BlobInfo | undefined> {
    validateName(repo);
    let info: BlobInfo;
    try {
      info = await this.statBlob(validateName(from), digest);
    } catch (err) {
      if (err instanceof RegistryError && (err.code === 'BLOB_UNKNOWN' || err.code === 'NAME_INVALID')) return undefined;
      throw err;
    }
    await this.link(this.layerLink(repo, parseDigest(digest)), digest);
    return info;
  }

  // ---- uploads

  async startUpload(repo: string): Promise<UploadState> {
    validateName(repo);
    const id = randomUUID();
    await (await open(this.uploadPath(id), 'wx')).close();
    this.uploads.set(id, { repo, offset: 0, hash: createHash('sha256'), busy: false });
    return { id, offset: 0 };
  }

  getUpload(repo: string, id: string): UploadState {
    const s = this.session(repo, id);
    return { id, offset: s.offset };
  }

  async cancelUpload(repo: string, id: string): Promise<void> {
    this.session(repo, id);
    await this.dropUpload(id);
  }

  /**
   * Appends a chunk. `start` (from Content-Range) must be the current offset. If the
   * body fails midway (the client went away), the upload is dropped: its running hash
   * has seen bytes that may not all be on disk.
   */
  async appendUpload(repo: string, id: string, body: Readable, start?: number): Promise<UploadState> {
    const s = this.session(repo, id);
    if (s.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing this upload');
    if (start !== undefined && start !== s.offset) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${start}, upload is at ${s.offset}`, { offset: s.offset });
    }
    s.busy = true;
    const hashing = new HashingStream(s.hash);
    try {
      await pipeline(body, hashing, createWriteStream(this.uploadPath(id), { flags: 'a' }));
    } catch (err) {
      await this.dropUpload(id);
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload interrupted', undefined, { cause: err });
    }
    s.offset += hashing.bytes;
    s.busy = false;
    return { id, offset: s.offset };
  }

  /** Appends the optional last chunk, verifies the digest and moves the blob into place. */
  async completeUpload(repo: string, id: string, digest: string, body?: Readable): Promise<BlobInfo> {
    const hex = parseDigest(digest);
    if (body) await this.appendUpload(repo, id, body);
    const s = this.session(repo, id);
    if (s.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing this upload');
    s.busy = true;
    const actual = `sha256:${s.hash.digest('hex')}`;
    try {
      verifyDigest(digest, actual);
      // a build context lives for one build: a crash loses the build with it, no fsync buys anything
      const durable = !repo.startsWith(CONTEXT_REPOSITORY_PREFIX);
      await this.commit(this.uploadPath(id), hex, durable);
      await this.link(this.layerLink(repo, hex), digest, durable);
      return { digest, size: s.offset };
    } finally {
      await this.dropUpload(id);
    }
  }

  // ---- manifests

  /** Stores the exact bytes, checks every reference is in `repo`, then links (and tags). */
  async putManifest(repo: string, reference: string, bytes: Buffer, contentType: string | undefined): Promise<{ digest: string }> {
    validateName(repo);
    const digest = sha256Digest(bytes);
    if (isDigest(reference)) {
      parseDigest(reference);
      verifyDigest(reference, digest);
    } else {
      validateTag(reference);
    }
    const parsed = parseManifest(bytes, contentType);
    const missing: string[] = [];
    for (const b of parsed.blobs) if (!(await exists(this.layerLink(repo, parseDigest(b))))) missing.push(b);
    for (const m of parsed.manifests) if (!(await exists(this.revisionLink(repo, parseDigest(m))))) missing.push(m);
    if (missing.length > 0) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digests: missing });
    const hex = parseDigest(digest);
    if (!(await exists(this.blobPath(hex)))) {
      const tmp = join(this.root, 'tmp', randomUUID());
      await writeDurable(tmp, bytes);
      await this.commit(tmp, hex);
    }
    await this.link(this.revisionLink(repo, hex), parsed.mediaType);
    if (!isDigest(reference)) await this.link(this.tagPath(repo, reference), digest);
    return { digest };
  }

  async getManifest(repo: string, reference: string): Promise<StoredManifest> {
    validateName(repo);
    const digest = await this.resolve(repo, reference);
    const hex = parseDigest(digest);
    const mediaType = await readFile(this.revisionLink(repo, hex), 'utf8').catch(() => undefined);
    const bytes = mediaType === undefined ? undefined : await readFile(this.blobPath(hex)).catch(() => undefined);
    if (mediaType === undefined || bytes === undefined) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { name: repo, reference });
    return { digest, mediaType, bytes };
  }

  /** By tag: removes the tag. By digest: unlinks the manifest and every tag pointing at it. */
  async deleteManifest(repo: string, reference: string): Promise<void> {
    const { digest } = await this.getManifest(repo, reference);
    if (!isDigest(reference)) {
      await unlink(this.tagPath(repo, reference));
      return;
    }
    const tagsDir = join(this.repoDir(repo), '_manifests', 'tags');
    for (const tag of await readdir(tagsDir).catch(() => [] as string[])) {
      const d = await readFile(join(tagsDir, tag), 'utf8').catch(() => undefined);
      if (d === digest) await unlink(join(tagsDir, tag)).catch(() => undefined);
    }
    await unlink(this.revisionLink(repo, parseDigest(digest)));
  }

  async listTags(repo: string, n?: number, last?: string): Promise<Page<string>> {
    validateName(repo);
    if (!(await exists(this.repoDir(repo), true))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repo });
    const tags = (await readdir(join(this.repoDir(repo), '_manifests', 'tags')).catch(() => [] as string[])).filter(isTag).sort();
    return paginate(tags, n, last);
  }

  async catalog(n?: number, last?: string): Promise<Page<string>> {
    const repos: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdir(join(this.root, 'repositories', rel), { withFileTypes: true }).catch(() => []);
      if (rel && entries.some((e) => e.name === '_manifests' || e.name === '_layers')) repos.push(rel);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(rel ? `${rel}/${e.name}` : e.name);
    };
    await walk('');
    return paginate(repos.sort(), n, last);
  }

  // ---- internals

  private async resolve(repo: string, reference: string): Promise<string> {
    if (isDigest(reference)) {
      parseDigest(reference);
      return reference;
    }
    validateTag(reference);
    const d = await readFile(this.tagPath(repo, reference), 'utf8').catch(() => undefined);
    if (!d) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { name: repo, tag: reference });
    return d.trim();
  }

  private session(repo: string, id: string): UploadSession {
    validateName(repo);
    const s = this.uploads.get(id);
    if (!s || s.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
    return s;
  }

  private async dropUpload(id: string): Promise<void> {
    this.uploads.delete(id);
    await rm(this.uploadPath(id), { force: true });
  }

  /** fsyncs `tmp` and renames it to the blob's place (content-addressed: an existing copy wins). */
  private async commit(tmp: string, hex: string, durable = true): Promise<void> {
    const dest = this.blobPath(hex);
    // a blob already there under its digest stays (it may be a durable one a scratch upload must not replace)
    if (!durable && (await exists(dest))) {
      await rm(tmp, { force: true });
      return;
    }
    if (durable) {
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await mkdir(dirname(dest), { recursive: true });
    await rename(tmp, dest);
    if (durable) await syncDir(dirname(dest));
  }

  /** Writes a small link file atomically (temp file, fsync unless scratch, rename). */
  private async link(path: string, content: string, durable = true): Promise<void> {
    const tmp = join(this.root, 'tmp', randomUUID());
    await writeDurable(tmp, Buffer.from(content), durable);
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
  }

  private blobPath(hex: string): string {
    return join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }
  private uploadPath(id: string): string {
    return join(this.root, 'uploads', id);
  }
  private repoDir(repo: string): string {
    return join(this.root, 'repositories', repo);
  }
  private layerLink(repo: string, hex: string): string {
    return join(this.repoDir(repo), '_layers', 'sha256', hex);
  }
  private revisionLink(repo: string, hex: string): string {
    return join(this.repoDir(repo), '_manifests', 'revisions', 'sha256', hex);
  }
  private tagPath(repo: string, tag: string): string {
    return join(this.repoDir(repo), '_manifests', 'tags', tag);
  }
}

async function exists(path: string, dir = false): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return !!st && (dir ? st.isDirectory() : st.isFile());
}

async function writeDurable(path: string, data: Buffer, durable = true): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
