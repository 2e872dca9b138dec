import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { findDrydockError, InvalidArgumentError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { chainIds, MediaTypes, type Manifest } from '@drydock/oci-spec';
import type { ContainerdClient } from '../../containerd/containerd-client';
import { decompress } from '../compression';
import { addLeaseResource, ContentWriter, contentInfo, ingestRef, readBlob, writeBlob, type Descriptor } from '../content';
import { GC_LABELS } from '../image-model';
import { familiarString, parseNormalizedNamed, referenceString, type ImageReference } from '../reference';
import { checkTarEntry, TarValidator } from '../tar-validator';
import { decompressArchive } from './archive-decompress';
import { ArchiveTree } from './archive-tree';
import { untilEndOfArchive } from './end-of-archive';
import { parseLoadConfig, parseManifest, type LoadConfig } from './load-manifest';
import type { ArchiveImageStore } from './ports';

/** Files up to this size are kept in memory (configs, json, manifest); bigger ones stream into the content store. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** Memory for small files of one archive; beyond it they stream into the content store too. */
const SMALL_FILES_TOTAL = 64 * 1024 * 1024;
const MAX_JSON_BYTES = 16 * 1024 * 1024;

/** An archive file: in memory, or already in the content store (uncompressed) under the load's lease. */
type StoredFile = { where: 'content'; digest: string; size: number; compressed: boolean; problem?: InvalidArgumentError };
type ArchiveFile = { where: 'memory'; data: Buffer } | StoredFile;

/** A layer ready to be unpacked: an uncompressed blob in the content store. */
interface StoredLayer {
  digest: string;
  size: number;
}

interface PlannedImage {
  config: Buffer;
  id: string;
  parsed: LoadConfig;
  layers: StoredLayer[];
  tags: ImageReference[];
}

export interface LoadResult {
  /** The lines Docker prints, in its order ("Loaded image: x", "Loaded image ID: sha256:..", tag moves). */
  messages: string[];
  /** Loaded image ids in manifest order (dockerd emits a "load" event for each). */
  imageIds: string[];
  /** Per image, its Config.Labels (dockerd copies them into the event). */
  labels: Record<string, string>[];
}

/** dockerd's words for a tar it cannot read (chrootarchive's "Error processing tar file"). */
function tarError(err: unknown): InvalidArgumentError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/invalid tar header|invalid header|header exceeds/i.test(msg)) return new InvalidArgumentError('Error processing tar file(exit status 1): archive/tar: invalid tar header', { cause: err });
  if (/unexpected end of data|unexpected EOF/i.test(msg)) return new InvalidArgumentError('Error processing tar file(exit status 1): unexpected EOF', { cause: err });
  if (err instanceof InvalidArgumentError) return err;
  return new InvalidArgumentError(`Error processing tar file(exit status 1): ${msg}`, { cause: err });
}

const isFileType = (t: Header['type'] | null | undefined) => t === 'file' || t === 'contiguous-file' || t == null;

/**
 * `docker load` of Docker's save format (moby v20.10 image/tarexport/load.go),
 * all or nothing: the upload streams through once; large files (layers) go
 * straight into containerd's content store under a lease, uncompressed and
 * hashed on the way, small ones stay in memory. Only when the archive has
 * ended (manifest.json usually comes last) is it checked as a whole: manifest,
 * configs, layer tars, diff ids, tags. Layers are unpacked, configs stored
 * verbatim (the image id survives a save/load round trip) with an OCI
 * manifest, and only then are names given. Any failure deletes the lease with
 * a synchronous GC: no image, no content, no snapshot is left behind.
 */
export class ImageLoader {
  private readonly log: Logger;
  private readonly cc: ContainerdClient;

  constructor(
    private readonly store: ArchiveImageStore,
    logger: Logger,
    private readonly opts: { timeoutMs: number } = { timeoutMs: 60 * 60 * 1000 },
  ) {
    this.log = logger.child({ component: 'image-loader' });
    this.cc = store.containerd;
  }

  async load(data: AsyncIterable<Buffer>): Promise<LoadResult> {
    const started = Date.now();
    return this.store.withLease('load', async (leaseId) => {
      const tree = await this.readArchive(data, leaseId);
      const images = await this.plan(tree, leaseId);
      const before = new Map<string, string>();
      for (const row of await this.store.listImages({})) for (const t of row.repoTags) before.set(referenceString(parseNormalizedNamed(t)), row.id);

      // content and snapshots first, all of them: a failure here still names nothing
      const targets: Descriptor[] = [];
      for (const img of images) targets.push(await this.writeImage(img, leaseId));

      const messages: string[] = [];
      let idLines: string[] = [];
      let lastTagged = 0;
      for (const [i, img] of images.entries()) {
        await this.store.nameImage(img.tags.map(referenceString), targets[i]);
        idLines.push(`Loaded image ID: ${img.id}`);
        for (const t of img.tags) {
          const prev = before.get(referenceString(t));
          if (prev && prev !== img.id) messages.push(`The image ${familiarString(t)} already exists, renaming the old one with ID ${prev} to empty string`);
          before.set(referenceString(t), img.id);
          messages.push(`Loaded image: ${familiarString(t)}`);
        }
        lastTagged = img.tags.length;
      }
      // dockerd prints the ids only when the last image had no tag (its counter restarts per image)
      if (lastTagged > 0) idLines = [];
      this.log.info({ images: images.map((i) => i.id), ms: Date.now() - started }, 'images loaded');
      return { messages: [...messages, ...idLines], imageIds: images.map((i) => i.id), labels: images.map((i) => i.parsed.labels) };
    });
  }

  /** Reads the whole upload once, building the file tree; entries escaping the archive are refused. */
  private async readArchive(data: AsyncIterable<Buffer>, leaseId: string): Promise<ArchiveTree<ArchiveFile>> {
    const tree = new ArchiveTree<ArchiveFile>();
    const chunks = await decompressArchive(data).catch((err) => {
      throw tarError(err);
    });
    const parser = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
    // Go's reader stops at the end-of-archive marker; tar-stream would read on into what follows
    const source = Readable.from(untilEndOfArchive(chunks), { objectMode: false });
    source.on('error', (err) => parser.destroy(err));
    source.pipe(parser);
    let memoryBytes = 0;
    try {
      for await (const entry of parser) {
        const h = entry.header;
        const problem = checkTarEntry(h);
        if (problem) throw new InvalidArgumentError(problem);
        const it = entry[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        // the entry must be read to its end whatever happens to it, or the parser stalls
        const body: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
        const drain = async () => {
          for (;;) if ((await it.next()).done) return;
        };
        if (h.type === 'directory') tree.set(h.name, { kind: 'dir' });
        else if (h.type === 'symlink') tree.set(h.name, { kind: 'symlink', target: h.linkname ?? '' });
        else if (h.type === 'link') {
          const target = tree.lookup(h.linkname ?? '');
          if (target?.kind !== 'file') throw new InvalidArgumentError(`Error processing tar file(exit status 1): link ${h.linkname} ${h.name}: no such file or directory`);
          tree.set(h.name, target);
        } else if (isFileType(h.type)) {
          const size = h.size ?? 0;
          if (size <= SMALL_FILE_BYTES && memoryBytes + size <= SMALL_FILES_TOTAL) {
            const parts: Buffer[] = [];
            for await (const c of body) parts.push(c as Buffer);
            memoryBytes += size;
            tree.set(h.name, { kind: 'file', file: { where: 'memory', data: Buffer.concat(parts) } });
          } else {
            tree.set(h.name, { kind: 'file', file: await this.ingest(body, leaseId) });
          }
        }
        await drain();
      }
    } catch (err) {
      source.destroy();
      // our own refusals and a failing upload pass through; the parser's complaints get dockerd's words
      const known = findDrydockError(err);
      if (known && !(known instanceof InvalidArgumentError && /^invalid tar (header|: unexpected)/.test(known.message))) throw err;
      throw tarError(err);
    }
    return tree;
  }

  /**
   * Streams one (large) file into the content store, inflating gzip, hashing
   * and checking it as a tar on the way. Whether it is a layer is only known
   * later, so a bad tar is recorded, not thrown; the blob is committed either way.
   */
  private async ingest(body: AsyncIterable<Buffer>, leaseId: string): Promise<StoredFile> {
    let problem: InvalidArgumentError | undefined;
    let src: AsyncIterable<Buffer>;
    let compressed = false;
    try {
      const d = await decompress(body);
      src = d.chunks;
      compressed = d.compression !== 'none';
    } catch (err) {
      return { where: 'content', digest: '', size: 0, compressed: true, problem: err instanceof InvalidArgumentError ? err : tarError(err) };
    }
    const writer = new ContentWriter(this.cc, ingestRef('drydock-load'), { leaseId, timeoutMs: this.opts.timeoutMs });
    const validator = new TarValidator();
    const hash = createHash('sha256');
    let size = 0;
    try {
      await writer.open();
      try {
        for await (const c of src) {
          hash.update(c);
          size += c.length;
          await writer.write(c);
          if (!problem) await validator.write(c).catch((err) => (problem = layerTarError(err)));
        }
      } catch (err) {
        // bad gzip data: not a layer (and not JSON either); what came so far is still committed
        problem ??= layerTarError(err);
      }
      if (!problem) await validator.end().catch((err) => (problem = layerTarError(err)));
      const digest = 'sha256:' + hash.digest('hex');
      const res = await writer.commit(size, digest, { [GC_LABELS.uncompressed]: digest });
      if (res.existed) await addLeaseResource(this.cc, leaseId, { id: digest, type: 'content' });
      return { where: 'content', digest, size, compressed, problem };
    } catch (err) {
      validator.destroy();
      await writer.abort();
      throw err;
    } finally {
      if (problem) validator.destroy();
    }
  }

  /** Checks every image of the manifest and readies its layers in the content store; names nothing. */
  private async plan(tree: ArchiveTree<ArchiveFile>, leaseId: string): Promise<PlannedImage[]> {
    const manifestFile = tree.file('manifest.json');
    if (!manifestFile) throw new InvalidArgumentError(legacyError(tree));
    const items = parseManifest(await this.readJsonFile(manifestFile));
    const images: PlannedImage[] = [];
    const layerCache = new Map<ArchiveFile, StoredLayer & { problem?: InvalidArgumentError }>();
    for (const item of items) {
      const cfgFile = tree.file(item.config);
      if (!cfgFile) throw new InvalidArgumentError(`open ${item.config}: no such file or directory`);
      const config = await this.readJsonFile(cfgFile);
      const parsed = parseLoadConfig(config);
      if (item.layers.length !== parsed.diffIds.length) {
        throw new InvalidArgumentError(`invalid manifest, layers length mismatch: expected ${item.layers.length}, got ${parsed.diffIds.length}`);
      }
      const layers: StoredLayer[] = [];
      for (const [i, diffId] of parsed.diffIds.entries()) {
        const file = tree.file(item.layers[i]);
        let layer: (StoredLayer & { problem?: InvalidArgumentError }) | undefined;
        if (file) {
          layer = layerCache.get(file) ?? (await this.layerOf(file, leaseId));
          layerCache.set(file, layer);
        } else {
          // dockerd skips a layer it already has without opening the file; so does the content store here
          const info = await contentInfo(this.cc, diffId);
          if (!info) throw new InvalidArgumentError(`open ${item.layers[i]}: no such file or directory`);
          await addLeaseResource(this.cc, leaseId, { id: diffId, type: 'content' });
          layer = { digest: diffId, size: Number(info.size ?? 0) };
        }
        if (layer.problem) throw layer.problem;
        if (layer.digest !== diffId) throw new InvalidArgumentError(`invalid diffID for layer ${i}: expected "${diffId}", got "${layer.digest}"`);
        layers.push(layer);
      }
      const tags = item.repoTags.map((t) => {
        const ref = parseNormalizedNamed(t);
        if (ref.tag === undefined) throw new InvalidArgumentError(`invalid tag "${t}"`);
        // a name with both tag and digest: dockerd's reference store refuses the digest part silently
        return ref.digest === undefined ? ref : parseNormalizedNamed(`${ref.name}:${ref.tag}`);
      });
      images.push({ config, id: 'sha256:' + createHash('sha256').update(config).digest('hex'), parsed, layers, tags });
    }
    return images;
  }

  /** A file used as a layer: validated and stored uncompressed (small files are stored now). */
  private async layerOf(file: ArchiveFile, leaseId: string): Promise<StoredLayer & { problem?: InvalidArgumentError }> {
    if (file.where === 'content') return file;
    const data = file.data;
    async function* once(): AsyncGenerator<Buffer> {
      yield data;
    }
    return this.ingest(once(), leaseId);
  }

  private async readJsonFile(file: ArchiveFile): Promise<Buffer> {
    if (file.where === 'memory') return file.data;
    if (file.compressed || !file.digest) throw new InvalidArgumentError("invalid character '\\x1f' looking for beginning of value");
    return readBlob(this.cc, file.digest, { maxBytes: MAX_JSON_BYTES, timeoutMs: 30000 });
  }

  /** Unpacks the layers, stores config and manifest; returns the manifest descriptor to name. */
  private async writeImage(img: PlannedImage, leaseId: string): Promise<Descriptor> {
    const chains = chainIds(img.parsed.diffIds);
    for (const [i, l] of img.layers.entries()) {
      await this.store.unpack({ mediaType: MediaTypes.OciLayer, digest: l.digest, size: String(l.size) }, chains[i], i > 0 ? chains[i - 1] : undefined, leaseId);
    }
    const top = chains[chains.length - 1];
    const cfgLabels = top ? { [GC_LABELS.snapshot(this.store.snapshotterName)]: top } : {};
    const cfg = await writeBlob(this.cc, img.config, cfgLabels, { leaseId, timeoutMs: this.opts.timeoutMs });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: cfg.digest, size: cfg.size },
      layers: img.layers.map((l) => ({ mediaType: MediaTypes.OciLayer, digest: l.digest, size: l.size })),
    };
    const labels: Record<string, string> = { [GC_LABELS.contentConfig]: cfg.digest };
    img.layers.forEach((l, i) => (labels[GC_LABELS.contentLayer(i)] = l.digest));
    const m = await writeBlob(this.cc, Buffer.from(JSON.stringify(manifest)), labels, { leaseId, timeoutMs: this.opts.timeoutMs });
    return { mediaType: MediaTypes.OciManifest, digest: m.digest, size: String(m.size) };
  }
}

/** The tar validator's words for a bad layer tar, in dockerd's where it has them. */
function layerTarError(err: unknown): InvalidArgumentError {
  const msg = err instanceof Error ? err.message : String(err);
  // Go's gzip reader fails a damaged stream with "unexpected EOF" as well
  if (/^invalid gzip data/.test(msg)) return tarError(new Error('unexpected EOF'));
  if (/^invalid tar header|^invalid tar: unexpected EOF/.test(msg)) return tarError(err);
  return err instanceof InvalidArgumentError ? err : tarError(err);
}

/** Without manifest.json dockerd tries the pre-1.10 format and fails on its first missing file. */
function legacyError(tree: ArchiveTree<ArchiveFile>): string {
  const probe = tree.lookup('repositories');
  if (probe?.kind === 'file') return 'loading a legacy (pre Docker 1.10) archive without manifest.json is not supported';
  return 'open repositories: no such file or directory';
}
