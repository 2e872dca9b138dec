import { createHash, randomBytes } from 'node:crypto';
import { InternalError, InvalidArgumentError, isAlreadyExists, isNotFound, NotFoundError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { applyChanges, chainIds, isIndexMediaType, isManifestMediaType, MediaTypes, type ImageConfig, type Manifest } from '@drydock/oci-spec';
import { ctrImages } from '@drydock/proto';
import type { ContainerdClient } from '../containerd/containerd-client';
import { decompress, type Compression } from './compression';
import { addLeaseResource, contentInfo, ContentWriter, ingestRef, LEASE_HEADER, readBlob, writeBlob, type Descriptor } from './content';
import { imageFilter, type Filter } from './image-filters';
import {
  dockerRunConfig,
  GC_LABELS,
  historyItems,
  importConfig,
  importManifest,
  parseJsonBlob,
  parsePlatform,
  type DockerRunConfig,
  type HistoryItem,
  type PlatformSpec,
} from './image-model';
import {
  familiarString,
  isDigest,
  isFullHexId,
  parseNormalizedNamed,
  parseStoredName,
  referenceString,
  repositoryOf,
  withDefaultTag,
  withTag,
  type ImageReference,
} from './reference';
import { isImageIdPrefix, planRemoval, type ImageUsage } from './removal';
import { SnapshotManager, type Mount } from './snapshot-manager';
import { TarValidator, type TarStats } from './tar-validator';

/**
 * Node-local images in containerd: `docker import`, list, inspect, tag, rmi,
 * and the container snapshots made from them.
 *
 * Storage decisions:
 * - An import stores its layer UNCOMPRESSED with an OCI manifest
 *   (`application/vnd.oci.image.layer.v1.tar`): the blob digest is the diff ID,
 *   one sha256 pass serves both, no zlib on the import path, and `docker save`
 *   later streams the blob as the archive's `layer.tar` unchanged (the legacy
 *   save format wants uncompressed layers, and its digests are the diff IDs).
 *   Push compresses at that time.
 * - containerd needs a name for every image record. An untagged image (import
 *   without repository, or the last tag moved or removed while a container
 *   still uses it) is kept by a record named `drydock-dangling@<target digest>`
 *   (moby's containerd store uses `moby-dangling@<digest>` the same way); it is
 *   never shown as a tag and disappears as soon as the image gets a name.
 * - Image id = `sha256:<config digest>`, as in Docker.
 * - Size = the sum of the snapshotter's usage of each of the image's committed
 *   layer snapshots (disk bytes of the unpacked layers), falling back to the
 *   layer blob size for a layer that is not unpacked.
 */

export interface ImageStoreOptions {
  /** containerd snapshotter holding unpacked layers. */
  snapshotter: string;
  /** Default platform of imports and the one picked from multi-platform images, e.g. `linux/amd64`. */
  platform: string;
  /** Deadline of a whole import (content write, layer apply). */
  importTimeoutMs?: number;
  /** Expiry of the lease an import works under: if the supervisor dies mid-import, GC cleans up after this. */
  importLeaseExpiryMs?: number;
  /** Protection window of a fresh container snapshot (see SnapshotManager). */
  containerLeaseExpiryMs?: number;
}

/** `docker import` parameters. */
export interface ImportHeader {
  /** `repo` query parameter; may carry a tag (`busybox:1.0`). Empty: the image stays untagged. */
  repository?: string;
  tag?: string;
  /** `--change` Dockerfile instructions. */
  changes: string[];
  /** `-m`; default "Imported from -". */
  message?: string;
  /** `os[/arch[/variant]]`, linux only. */
  platform?: string;
}

export interface ImportResult {
  /** `sha256:<config digest>` */
  id: string;
  /** The familiar name given, e.g. `busybox:latest`; undefined for an untagged import. */
  name?: string;
  diffId: string;
  /** What the input was (gzip is stored uncompressed). */
  compression: Compression;
  /** Uncompressed tar bytes. */
  layerSize: number;
}

/** One row of `docker images`. */
export interface ImageSummary {
  id: string;
  /** Familiar `repo:tag`; empty for an untagged image (the gateway prints `<none>:<none>`). */
  repoTags: string[];
  /** Familiar `repo@sha256:…`. */
  repoDigests: string[];
  /** RFC 3339. */
  created: string;
  size: number;
  /** Config labels. */
  labels: Record<string, string>;
}

export interface ListImagesOptions {
  /** Docker shows intermediate build images with it; imports have none, so it changes nothing yet. */
  all?: boolean;
  filters?: Filter[];
}

export interface ResolvedImage {
  id: string;
  /** Normalized references naming the image (`docker.io/library/busybox:latest`). */
  names: string[];
  repoTags: string[];
  repoDigests: string[];
  config: ImageConfig;
  manifest: Manifest;
  /** The descriptor the image records point at (manifest, or an index for multi-platform images). */
  target: Descriptor;
  manifestDigest: string;
  /** Chain id of the whole layer stack: the parent snapshot of containers. */
  chainId: string;
  diffIds: string[];
  /** The image it was committed on (`sha256:…`), from the config blob's metadata labels. */
  parent?: string;
  /** Metadata labels of the config blob (`drydock.image.*` prefix removed). */
  metadata: Record<string, string>;
  /** Bytes; see the class comment. */
  size: number;
  /** Per layer, lowest first. */
  layerSizes: number[];
  /** RFC 3339. */
  created: string;
}

/** `docker image inspect` (API 1.41 ImageInspect). */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: DockerRunConfig;
  DockerVersion: string;
  Author: string;
  Config: DockerRunConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export interface RemoveImageOptions {
  force?: boolean;
  /** Docker's noprune keeps untagged parents; imported images have no parents, so it changes nothing. */
  noPrune?: boolean;
  /** Which containers use the image (the container store knows). */
  isInUse: (imageId: string) => Promise<ImageUsage>;
}

export interface RemoveImageResult {
  /** Familiar references removed, in Docker's order. */
  untagged: string[];
  /** The image id, then the chain ids of the layers that went with it (top first). */
  deleted: string[];
}

/** Disk use of images, for `docker system df`. */
export interface ImageDiskUsage {
  /** Bytes of all unpacked layers, each counted once. */
  layersSize: number;
  images: { id: string; size: number; sharedSize: number }[];
}

const DANGLING_PREFIX = 'drydock-dangling@';
/**
 * Image metadata kept as labels of the config blob (dockerd keeps the same in imagedb/metadata, outside
 * the config, so the id does not depend on it): `parent` (the image committed on) and commit labels.
 */
export const IMAGE_METADATA_PREFIX = 'drydock.image.';
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** Manifests and configs are metadata; anything bigger is not one. */
const MAX_METADATA_BLOB = 4 * 1024 * 1024;
const DESCRIBE_CACHE_ENTRIES = 1024;

/** What an image record's target resolves to; immutable, so it is cached by target digest. */
interface TargetInfo {
  target: Descriptor;
  manifestDigest: string;
  manifest: Manifest;
  id: string;
  config: ImageConfig;
  diffIds: string[];
  chainIds: string[];
  /** `drydock.image.*` labels of the config blob: `parent` and what a commit put there. */
  metadata: Record<string, string>;
}

/** All records naming one image id. */
interface ImageEntry extends TargetInfo {
  recordNames: string[];
  references: ImageReference[];
  /** Latest record update: Docker's Metadata.LastTagTime. */
  lastTagged?: Date;
}

export function danglingName(targetDigest: string): string {
  return DANGLING_PREFIX + targetDigest;
}

export function isDanglingName(name: string): boolean {
  return name.startsWith(DANGLING_PREFIX);
}

/** Docker's image prune filters: dangling (default true), label, label!, until. */
export function pruneFilter(filters: Filter[]): (row: ImageSummary) => boolean {
  let danglingOnly = true;
  const checks: ((row: ImageSummary) => boolean)[] = [];
  const labelMatch = (spec: string, labels: Record<string, string>) => {
    const i = spec.indexOf('=');
    return i < 0 ? spec in labels : labels[spec.slice(0, i)] === spec.slice(i + 1);
  };
  for (const f of filters) {
    switch (f.key) {
      case 'dangling':
        for (const v of f.values) {
          const x = v.toLowerCase();
          if (x === 'false' || x === '0') danglingOnly = false;
          else if (x !== 'true' && x !== '1') throw new InvalidArgumentError(`Invalid filter 'dangling=${v}'`);
        }
        break;
      case 'label':
        checks.push((r) => f.values.every((v) => labelMatch(v, r.labels)));
        break;
      case 'label!':
        checks.push((r) => !f.values.some((v) => labelMatch(v, r.labels)));
        break;
      case 'until': {
        const limits = f.values.map(parseUntil);
        checks.push((r) => limits.every((ms) => Date.parse(r.created) < ms));
        break;
      }
      default:
        throw new InvalidArgumentError(`Invalid filter '${f.key}'`);
    }
  }
  return (r) => (!danglingOnly || r.repoTags.length === 0) && checks.every((c) => c(r));
}

/** `until`: Unix seconds, a Go duration before now (`24h`, `1h30m`), or an RFC 3339 time; epoch ms. */
function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (dur && v) return Date.now() - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid filter 'until=${v}'`);
  return t;
}

function tsToDate(ts: { seconds?: string; nanos?: number } | undefined): Date | undefined {
  if (!ts?.seconds) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

export class ImageStore {
  readonly snapshots: SnapshotManager;
  private readonly log: Logger;
  private readonly snapshotter: string;
  private readonly platform: PlatformSpec;
  private readonly importTimeoutMs: number;
  private readonly leaseExpiryMs: number;
  private readonly described = new Map<string, TargetInfo>();
  private readonly layerUsage = new Map<string, number>();
  /** Layer extractions in flight, by chain id (one per chain in this process). */
  private readonly extracting = new Map<string, Promise<void>>();
  /** Serialises name changes in this process (containerd has no multi-record transactions). */
  private nameLock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly cc: ContainerdClient,
    logger: Logger,
    opts: ImageStoreOptions,
  ) {
    this.log = logger.child({ component: 'image-store' });
    this.snapshotter = opts.snapshotter;
    this.platform = parsePlatform(opts.platform, { os: 'linux', architecture: 'amd64' });
    this.importTimeoutMs = opts.importTimeoutMs ?? 60 * 60 * 1000;
    this.leaseExpiryMs = opts.importLeaseExpiryMs ?? 2 * 60 * 60 * 1000;
    this.snapshots = new SnapshotManager(cc, logger, { snapshotter: opts.snapshotter, leaseExpiryMs: opts.containerLeaseExpiryMs });
  }

  // ---------------------------------------------------------------------------------------------
  // import

  /**
   * `docker import`: `data` is a root filesystem tar, plain or gzip. The tar is
   * checked entry by entry while it streams into containerd's content store
   * (never held in memory); the blob is committed only after the last header
   * passed. Everything happens under a lease, so a failure anywhere leaves
   * nothing behind: the lease is deleted with a synchronous GC.
   */
  async importImage(header: ImportHeader, data: AsyncIterable<Buffer>): Promise<ImportResult> {
    // Everything that can be refused without reading the body is checked first.
    const ref = importReference(header);
    const platform = parsePlatform(header.platform, this.platform);
    const runConfig = applyChanges({}, header.changes ?? []);
    const comment = header.message || 'Imported from -';
    const started = Date.now();
    const leaseId = await this.createLease('import');
    let ok = false;
    try {
      const layer = await this.ingestLayer(data, leaseId);
      const chainId = layer.diffId;
      await this.unpackLayer(layer.desc, chainId, undefined, leaseId);

      const created = new Date().toISOString();
      const config = importConfig({ created, platform, runConfig, diffId: layer.diffId, comment });
      const configBlob = Buffer.from(JSON.stringify(config));
      const configDesc = await writeBlob(this.cc, configBlob, { [GC_LABELS.snapshot(this.snapshotter)]: chainId }, { leaseId, timeoutMs: this.importTimeoutMs });
      const manifest = importManifest(configDesc, { digest: layer.diffId, size: layer.size });
      const manifestBlob = Buffer.from(JSON.stringify(manifest));
      const manifestDesc = await writeBlob(
        this.cc,
        manifestBlob,
        { [GC_LABELS.contentConfig]: configDesc.digest, [GC_LABELS.contentLayer(0)]: layer.diffId },
        { leaseId, timeoutMs: this.importTimeoutMs },
      );
      const target: Descriptor = { mediaType: MediaTypes.OciManifest, digest: manifestDesc.digest, size: String(manifestDesc.size) };
      await this.withNameLock(() => (ref ? this.pointName(referenceString(ref), target) : this.ensureDangling(target)));
      ok = true;
      const id = configDesc.digest;
      this.log.info(
        { imageId: id, name: ref && familiarString(ref), layerBytes: layer.size, compression: layer.compression, entries: layer.stats.entries, ms: Date.now() - started },
        'image imported',
      );
      return { id, name: ref && familiarString(ref), diffId: layer.diffId, compression: layer.compression, layerSize: layer.size };
    } finally {
      await this.deleteLease(leaseId, !ok);
    }
  }

  /** Streams the (decompressed) tar into the content store while hashing and validating it. */
  private async ingestLayer(
    data: AsyncIterable<Buffer>,
    leaseId: string,
  ): Promise<{ desc: Descriptor; diffId: string; size: number; compression: Compression; stats: TarStats }> {
    const { compression, chunks } = await decompress(data);
    const writer = new ContentWriter(this.cc, ingestRef('drydock-layer'), { leaseId, timeoutMs: this.importTimeoutMs });
    const validator = new TarValidator();
    const hash = createHash('sha256');
    let size = 0;
    try {
      await writer.open();
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        await validator.write(chunk);
        await writer.write(chunk);
      }
      const stats = await validator.end();
      const diffId = 'sha256:' + hash.digest('hex');
      // The commit is the point of no return for the blob: only a fully validated tar gets here.
      const res = await writer.commit(size, diffId, { [GC_LABELS.uncompressed]: diffId });
      if (res.existed) await addLeaseResource(this.cc, leaseId, { id: diffId, type: 'content' });
      return { desc: { mediaType: MediaTypes.OciLayer, digest: diffId, size: String(size) }, diffId, size, compression, stats };
    } catch (err) {
      validator.destroy();
      await writer.abort();
      throw err;
    }
  }

  /**
   * Unpacks a layer blob into the snapshot `chainId` (containerd's
   * rootfs.ApplyLayer: Prepare a temporary key, Diff.Apply, Commit). An already
   * unpacked chain is only added to the lease.
   */
  private async unpackLayer(layer: Descriptor, chainId: string, parent: string | undefined, leaseId: string, diffId = layer.digest): Promise<void> {
    const md = { [LEASE_HEADER]: leaseId };
    const snapshotter = this.snapshotter;
    // Lease first, then look: GC cannot collect the snapshot between the two.
    await addLeaseResource(this.cc, leaseId, { id: chainId, type: `snapshots/${snapshotter}` });
    if (await this.snapshotExists(chainId)) return;
    // Concurrent pulls of one image would each extract the same layer and keep only one copy:
    // wait for an extraction of this chain already under way, then look again.
    for (let inFlight = this.extracting.get(chainId); inFlight; inFlight = this.extracting.get(chainId)) {
      await inFlight.catch(() => undefined);
      if (await this.snapshotExists(chainId)) return;
    }
    const extraction = this.extractLayer(layer, chainId, parent, md, diffId);
    this.extracting.set(chainId, extraction);
    try {
      await extraction;
    } finally {
      if (this.extracting.get(chainId) === extraction) this.extracting.delete(chainId);
    }
  }

  private async extractLayer(layer: Descriptor, chainId: string, parent: string | undefined, md: Record<string, string>, diffId: string | undefined): Promise<void> {
    const snapshotter = this.snapshotter;
    const key = `extract-${Date.now()}-${randomBytes(4).toString('hex')} ${chainId}`;
    const prepared = await this.cc.unary(this.cc.snapshots, this.cc.snapshots.prepare, { snapshotter, key, parent }, { metadata: md });
    let committed = false;
    try {
      const res = await this.cc.unary(this.cc.diff, this.cc.diff.apply, { diff: layer, mounts: prepared.mounts ?? [] }, { metadata: md, timeoutMs: this.importTimeoutMs });
      if (res.applied?.digest !== diffId) {
        throw new InternalError(`wrong diff id calculated on extraction: ${res.applied?.digest}, want ${diffId}`);
      }
      try {
        await this.cc.unary(this.cc.snapshots, this.cc.snapshots.commit, { snapshotter, name: chainId, key }, { metadata: md });
        committed = true;
      } catch (err) {
        // Another import unpacked the same layer meanwhile: theirs is as good as ours.
        if (!isAlreadyExists(err)) throw err;
      }
    } finally {
      if (!committed) {
        await this.cc.unary(this.cc.snapshots, this.cc.snapshots.remove, { snapshotter, key }).catch((err) => {
          if (!isNotFound(err)) this.log.warn({ err, key }, 'extraction snapshot removal failed');
        });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // ingest API for pull and load (content is written by the caller under the lease)

  /** The containerd client, for callers writing content under a lease of withLease. */
  get containerd(): ContainerdClient {
    return this.cc;
  }

  /** The store's logger, for the code built on its ingest API (save/load) to derive its own from. */
  get logger(): Logger {
    return this.log;
  }

  get snapshotterName(): string {
    return this.snapshotter;
  }

  /** The node's default platform (pull and load pick it from an index). */
  get defaultPlatform(): PlatformSpec {
    return this.platform;
  }

  /**
   * Runs `fn` under a fresh lease. On success the lease is released (the named
   * image keeps its content); on failure it is deleted with a synchronous GC, so
   * nothing `fn` wrote stays behind.
   */
  async withLease<T>(purpose: string, fn: (leaseId: string) => Promise<T>): Promise<T> {
    const leaseId = await this.createLease(purpose);
    let ok = false;
    try {
      const res = await fn(leaseId);
      ok = true;
      return res;
    } finally {
      await this.deleteLease(leaseId, !ok);
    }
  }

  /**
   * Unpacks layer blob `layer` as snapshot `chainId` on `parent`; the uncompressed
   * digest containerd computes must equal `diffId` (default: the blob's own digest,
   * i.e. an uncompressed layer).
   */
  unpack(layer: Descriptor, chainId: string, parent: string | undefined, leaseId: string, diffId?: string): Promise<void> {
    return this.unpackLayer(layer, chainId, parent, leaseId, diffId ?? layer.digest);
  }

  /** True when the layer's chain is already unpacked (pull shows "Already exists"). */
  hasSnapshot(chainId: string): Promise<boolean> {
    return this.snapshotExists(chainId);
  }

  /**
   * Points every full reference in `names` ("docker.io/library/busybox:latest",
   * "docker.io/library/busybox@sha256:...") at `target` under the name lock; with
   * no names the image is kept by its dangling record.
   */
  nameImage(names: string[], target: Descriptor): Promise<void> {
    return this.withNameLock(async () => {
      if (names.length === 0) await this.ensureDangling(target);
      for (const n of names) await this.pointName(n, target);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // read

  /** `docker images`, newest first. */
  async listImages(opts: ListImagesOptions = {}): Promise<ImageSummary[]> {
    const entries = await this.entries();
    const filter = await imageFilter(opts.filters ?? [], async (ref) => Date.parse((await this.findEntry(ref, entries)).entry.config.created ?? ZERO_TIME));
    const out: ImageSummary[] = [];
    const parents = new Set([...entries.values()].map((e) => e.metadata.parent).filter((p): p is string => !!p));
    for (const e of entries.values()) {
      // dockerd: an untagged image with children is an intermediate (build) image, shown with -a only
      if (!opts.all && e.references.length === 0 && parents.has(e.id)) continue;
      const created = e.config.created ?? ZERO_TIME;
      const labels = e.config.config?.Labels ?? {};
      const filterable = { id: e.id, references: e.references, labels, createdMs: Date.parse(created) };
      if (!filter.matches(filterable)) continue;
      const visible = filter.visibleReferences(filterable);
      out.push({
        id: e.id,
        repoTags: visible.filter((r) => r.tag !== undefined).map(familiarString),
        repoDigests: visible.filter((r) => r.tag === undefined && r.digest !== undefined).map(familiarString),
        created,
        size: (await this.layerSizes(e)).reduce((a, b) => a + b, 0),
        labels,
      });
    }
    return out.sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || a.id.localeCompare(b.id));
  }

  /**
   * Finds an image by `name[:tag]` (`:latest` by default), `name@sha256:…`,
   * full id (`sha256:<hex>` or `<hex>`) or a unique id prefix, in dockerd's
   * order. NotFoundError `No such image: <ref>` otherwise.
   */
  async resolveImage(ref: string): Promise<ResolvedImage> {
    const { entry } = await this.findEntry(ref, await this.entries());
    return this.describeEntry(entry);
  }

  /** `docker image inspect`. */
  async inspectImage(ref: string): Promise<ImageInspect> {
    const { entry } = await this.findEntry(ref, await this.entries());
    const img = await this.describeEntry(entry);
    const c = img.config;
    return {
      Id: img.id,
      RepoTags: img.repoTags,
      RepoDigests: img.repoDigests,
      Parent: img.parent ?? c.parent ?? '',
      Comment: c.comment ?? '',
      Created: img.created,
      Container: c.container ?? '',
      ContainerConfig: dockerRunConfig(c.container_config),
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: dockerRunConfig(c.config),
      Architecture: c.architecture,
      ...(c.variant ? { Variant: c.variant } : {}),
      Os: c.os,
      ...(c['os.version'] ? { OsVersion: c['os.version'] } : {}),
      Size: img.size,
      VirtualSize: img.size,
      GraphDriver: { Name: this.snapshotter, Data: null },
      RootFS: { Type: 'layers', Layers: img.diffIds },
      Metadata: { LastTagTime: entry.lastTagged && img.repoTags.length ? entry.lastTagged.toISOString() : ZERO_TIME },
    };
  }

  /**
   * Images committed on `parentId` (with `''`: every image without a parent), for the build cache; with
   * `depth` > 1 their descendants too, up to that many generations (one listing for all of them).
   */
  async childImages(parentId: string, depth = 1): Promise<ResolvedImage[]> {
    const byParent = new Map<string, ImageEntry[]>();
    for (const e of (await this.entries()).values()) {
      const p = e.metadata.parent ?? '';
      const list = byParent.get(p);
      if (list) list.push(e);
      else byParent.set(p, [e]);
    }
    const out: ResolvedImage[] = [];
    let level = [parentId];
    for (let d = 0; d < Math.max(1, depth) && level.length > 0; d++) {
      const next: string[] = [];
      for (const p of level) {
        for (const e of byParent.get(p) ?? []) {
          out.push(await this.describeEntry(e));
          next.push(e.id);
        }
      }
      level = next;
    }
    return out;
  }

  /** Stores an uncompressed layer tar under the lease (validated while it streams): for commits. */
  async ingestUncompressedLayer(data: AsyncIterable<Buffer>, leaseId: string): Promise<{ desc: Descriptor; diffId: string; size: number; entries: number }> {
    const layer = await this.ingestLayer(data, leaseId);
    return { desc: layer.desc, diffId: layer.diffId, size: layer.size, entries: layer.stats.entries };
  }

  /** `docker history`, newest first. */
  async imageHistory(ref: string): Promise<HistoryItem[]> {
    const img = await this.resolveImage(ref);
    return historyItems(img.config, img.layerSizes, img.id, img.repoTags);
  }

  // ---------------------------------------------------------------------------------------------
  // names

  /**
   * `docker tag source repository[:tag]`: the name moves to the source image
   * (an image losing its last name stays, untagged). Returns the familiar name.
   */
  async tagImage(source: string, repository: string, tag?: string): Promise<string> {
    const ref = tagReference(repository, tag);
    const { entry } = await this.findEntry(source, await this.entries());
    await this.withNameLock(() => this.pointName(referenceString(ref), entry.target));
    this.log.info({ imageId: entry.id, name: familiarString(ref) }, 'image tagged');
    return familiarString(ref);
  }

  /** `docker rmi` with Docker 20.10's untag/delete/conflict rules (see removal.ts). */
  async removeImage(ref: string, opts: RemoveImageOptions): Promise<RemoveImageResult> {
    return this.withNameLock(async () => {
      const entries = await this.entries();
      const { entry, named } = await this.findEntry(ref, entries);
      const byId = isImageIdPrefix(entry.id, ref);
      const usage = await opts.isInUse(entry.id);
      // A digest reference that matched a record's target rather than a stored name removes nothing by name: treat it as the id.
      const storedNamed = !byId && named && entry.references.some((r) => referenceString(r) === referenceString(named)) ? named : undefined;
      const plan = planRemoval({ imageId: entry.id, given: ref, named: storedNamed, references: entry.references, force: !!opts.force, usage });

      if (plan.keepDangling) await this.ensureDangling(entry.target, plan.untag.map(referenceString));
      const untagged = plan.untag.map(familiarString);
      const doomed = plan.untag.map(referenceString);
      if (plan.deleteImage) doomed.push(...entry.recordNames.filter((n) => !doomed.includes(n)));
      // With the image going, the last delete runs containerd's GC synchronously: the layers are gone when we answer.
      for (const [i, name] of doomed.entries()) await this.deleteRecord(name, plan.deleteImage && i === doomed.length - 1);
      const deleted: string[] = [];
      if (plan.deleteImage) {
        const gone = [entry];
        // dockerd deletes the untagged parents too (unless noprune) that nothing else uses: a built
        // image's intermediate step images go with it.
        if (!opts.noPrune) gone.push(...(await this.unusedUntaggedParents(entry, opts.isInUse)));
        for (const [i, e] of gone.entries()) {
          if (i > 0) for (const [j, name] of e.recordNames.entries()) await this.deleteRecord(name, j === e.recordNames.length - 1);
          deleted.push(e.id);
        }
        for (const chain of [...entry.chainIds].reverse()) {
          if (!(await this.snapshotExists(chain))) {
            deleted.push(chain);
            this.layerUsage.delete(chain);
          }
        }
      }
      this.log.info({ imageId: entry.id, untagged, deleted: deleted.length }, 'image removed');
      return { untagged, deleted };
    });
  }

  /** The chain of untagged ancestors of `entry` that have no other child and no container (nearest first). */
  private async unusedUntaggedParents(entry: ImageEntry, isInUse: (imageId: string) => Promise<ImageUsage>): Promise<ImageEntry[]> {
    const entries = await this.entries();
    const out: ImageEntry[] = [];
    let child = entry;
    for (let parentId = entry.metadata.parent; parentId; parentId = child.metadata.parent) {
      const p = entries.get(parentId);
      if (!p || p.references.length > 0) break;
      const others = [...entries.values()].filter((e) => e.metadata.parent === parentId && e.id !== child.id);
      if (others.length > 0 || (await isInUse(parentId)).containerIds.length > 0) break;
      out.push(p);
      child = p;
    }
    return out;
  }

  /**
   * `docker image prune`: with `dangling=true` (the default) untagged images,
   * with `dangling=false` (`-a`) every image, that no container uses; `label`,
   * `label!` and `until` narrow it. Space is the size of the images deleted.
   */
  async pruneImages(opts: { filters: Filter[]; isInUse: (imageId: string) => Promise<ImageUsage> }): Promise<{ untagged: string[]; deleted: string[]; spaceReclaimed: number }> {
    const pred = pruneFilter(opts.filters);
    const untagged: string[] = [];
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const row of await this.listImages({})) {
      if (!pred(row)) continue;
      if ((await opts.isInUse(row.id)).containerIds.length > 0) continue;
      try {
        const res = await this.removeImage(row.id, { force: true, isInUse: opts.isInUse });
        untagged.push(...res.untagged);
        deleted.push(...res.deleted);
        if (res.deleted.includes(row.id)) spaceReclaimed += row.size;
      } catch (err) {
        // taken by a container or removed meanwhile: prune skips it, as Docker does
        this.log.debug({ err, imageId: row.id }, 'image not pruned');
      }
    }
    this.log.info({ deleted: deleted.length, spaceReclaimed }, 'images pruned');
    return { untagged, deleted, spaceReclaimed };
  }

  // ---------------------------------------------------------------------------------------------
  // containers

  /**
   * Prepares the writable snapshot of container `containerId` on top of the
   * image's layers and returns its mounts (the task's rootfs). See SnapshotManager.
   */
  async snapshotMountsForContainer(containerId: string, imageId: string): Promise<Mount[]> {
    const img = await this.resolveImage(imageId);
    return this.snapshots.prepare(containerId, img.chainId);
  }

  /** The mounts of an existing container snapshot. */
  containerSnapshotMounts(containerId: string): Promise<Mount[]> {
    return this.snapshots.mounts(containerId);
  }

  /** Removes a container's snapshot; a missing one is fine. */
  removeContainerSnapshot(containerId: string): Promise<void> {
    return this.snapshots.remove(containerId);
  }

  /** Layer bytes for `docker system df`: per image, and shared layers counted once overall. */
  async diskUsage(): Promise<ImageDiskUsage> {
    const entries = [...(await this.entries()).values()];
    const users = new Map<string, number>();
    for (const e of entries) for (const c of e.chainIds) users.set(c, (users.get(c) ?? 0) + 1);
    const seen = new Map<string, number>();
    const images: ImageDiskUsage['images'] = [];
    for (const e of entries) {
      const sizes = await this.layerSizes(e);
      let shared = 0;
      for (const [i, c] of e.chainIds.entries()) {
        seen.set(c, sizes[i]);
        if ((users.get(c) ?? 0) > 1) shared += sizes[i];
      }
      images.push({ id: e.id, size: sizes.reduce((a, b) => a + b, 0), sharedSize: shared });
    }
    return { layersSize: [...seen.values()].reduce((a, b) => a + b, 0), images };
  }

  // ---------------------------------------------------------------------------------------------
  // internals

  /** Every image in the namespace, grouped by id. Records whose content is unreadable are skipped (logged). */
  private async entries(): Promise<Map<string, ImageEntry>> {
    const res = await this.cc.unary(this.cc.images, this.cc.images.list, {});
    const records = res.images ?? [];
    const infos = await Promise.all(
      records.map(async (rec) => {
        try {
          return await this.describeTarget(rec.target ?? {});
        } catch (err) {
          this.log.warn({ err, name: rec.name }, 'image record skipped: content unreadable');
          return undefined;
        }
      }),
    );
    const out = new Map<string, ImageEntry>();
    for (const [i, rec] of records.entries()) {
      const info = infos[i];
      if (!info || !rec.name) continue;
      let entry = out.get(info.id);
      if (!entry) {
        entry = { ...info, recordNames: [], references: [] };
        out.set(info.id, entry);
      }
      entry.recordNames.push(rec.name);
      const updated = tsToDate(rec.updatedAt);
      if (!isDanglingName(rec.name)) {
        const r = parseStoredName(rec.name);
        if (r) entry.references.push(r);
        if (updated && (!entry.lastTagged || updated > entry.lastTagged)) entry.lastTagged = updated;
      }
    }
    for (const e of out.values()) e.references.sort((a, b) => referenceString(a).localeCompare(referenceString(b)));
    return out;
  }

  /** dockerd's GetImage order: full id, name (tag or digest), then unique id prefix. */
  private async findEntry(ref: string, entries: Map<string, ImageEntry>): Promise<{ entry: ImageEntry; named?: ImageReference }> {
    if (ref === '') throw new InvalidArgumentError('invalid reference format');
    if (isDigest(ref) || isFullHexId(ref)) {
      const id = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
      const entry = entries.get(id);
      if (!entry) throw new NotFoundError(`No such image: ${id}`);
      return { entry };
    }
    const idPrefix = /^(?:sha256:)?[0-9a-f]+$/.test(ref) ? (ref.startsWith('sha256:') ? ref : `sha256:${ref}`) : undefined;
    let named: ImageReference | undefined;
    try {
      named = withDefaultTag(parseNormalizedNamed(ref));
    } catch (err) {
      if (!idPrefix) throw err;
    }
    if (named) {
      const full = referenceString(named);
      for (const e of entries.values()) {
        if (e.recordNames.includes(full)) return { entry: e, named };
      }
      if (named.digest) {
        // `repo@digest` also finds an image of that repository whose record points at that digest.
        const repo = repositoryOf(named);
        for (const e of entries.values()) {
          if (e.target.digest === named.digest && e.references.some((r) => repositoryOf(r) === repo)) return { entry: e, named };
        }
      }
    }
    if (idPrefix) {
      const matches = [...entries.values()].filter((e) => e.id.startsWith(idPrefix));
      // dockerd answers an ambiguous prefix with "No such image" as well.
      if (matches.length === 1) return { entry: matches[0] };
    }
    throw new NotFoundError(`No such image: ${named ? familiarString(named) : ref}`);
  }

  private async describeEntry(entry: ImageEntry): Promise<ResolvedImage> {
    const layerSizes = await this.layerSizes(entry);
    return {
      id: entry.id,
      names: entry.references.map(referenceString),
      repoTags: entry.references.filter((r) => r.tag !== undefined).map(familiarString),
      repoDigests: entry.references.filter((r) => r.tag === undefined && r.digest !== undefined).map(familiarString),
      config: entry.config,
      manifest: entry.manifest,
      target: entry.target,
      manifestDigest: entry.manifestDigest,
      chainId: entry.chainIds[entry.chainIds.length - 1] ?? '',
      diffIds: entry.diffIds,
      parent: entry.metadata.parent || undefined,
      metadata: entry.metadata,
      size: layerSizes.reduce((a, b) => a + b, 0),
      layerSizes,
      created: entry.config.created ?? ZERO_TIME,
    };
  }

  /** Reads manifest (through an index if need be) and config of a record's target. */
  private async describeTarget(target: Descriptor): Promise<TargetInfo> {
    const key = target.digest ?? '';
    const cached = this.described.get(key);
    if (cached) return cached;
    const read = (digest: string) => readBlob(this.cc, digest, { maxBytes: MAX_METADATA_BLOB, timeoutMs: 30000 });
    let manifestDigest = key;
    let manifestBlob = await read(key);
    if (isIndexMediaType(target.mediaType ?? '')) {
      const index = parseJsonBlob<{ manifests?: { digest: string; mediaType?: string; platform?: PlatformSpec }[] }>(manifestBlob, `index ${key}`);
      const m = (index.manifests ?? []).find(
        (d) =>
          isManifestMediaType(d.mediaType ?? '') &&
          d.platform?.os === this.platform.os &&
          d.platform?.architecture === this.platform.architecture &&
          (!d.platform.variant || !this.platform.variant || d.platform.variant === this.platform.variant),
      );
      if (!m) throw new NotFoundError(`image index ${key} has no manifest for ${this.platform.os}/${this.platform.architecture}`);
      manifestDigest = m.digest;
      manifestBlob = await read(m.digest);
    } else if (!isManifestMediaType(target.mediaType ?? '')) {
      throw new InternalError(`unsupported image target media type ${target.mediaType}`);
    }
    const manifest = parseJsonBlob<Manifest>(manifestBlob, `manifest ${manifestDigest}`);
    const config = parseJsonBlob<ImageConfig>(await read(manifest.config.digest), `config ${manifest.config.digest}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries((await contentInfo(this.cc, manifest.config.digest))?.labels ?? {})) {
      if (k.startsWith(IMAGE_METADATA_PREFIX)) metadata[k.slice(IMAGE_METADATA_PREFIX.length)] = v;
    }
    const info: TargetInfo = { target, manifestDigest, manifest, id: manifest.config.digest, config, diffIds, chainIds: chainIds(diffIds), metadata };
    if (this.described.size >= DESCRIBE_CACHE_ENTRIES) this.described.delete(this.described.keys().next().value!);
    this.described.set(key, info);
    return info;
  }

  /** Per-layer bytes: the snapshotter's usage of each committed layer, or the blob size if not unpacked. */
  private async layerSizes(e: TargetInfo): Promise<number[]> {
    return Promise.all(
      e.chainIds.map(async (chain, i) => {
        const cached = this.layerUsage.get(chain);
        if (cached !== undefined) return cached;
        try {
          const res = await this.cc.unary(this.cc.snapshots, this.cc.snapshots.usage, { snapshotter: this.snapshotter, key: chain });
          const size = Number(res.size ?? 0);
          this.layerUsage.set(chain, size); // committed snapshots never change
          return size;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          return Number(e.manifest.layers?.[i]?.size ?? 0);
        }
      }),
    );
  }

  private async snapshotExists(key: string): Promise<boolean> {
    try {
      await this.cc.unary(this.cc.snapshots, this.cc.snapshots.stat, { snapshotter: this.snapshotter, key });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Points `name` at `target`. An image that loses its last name to this keeps
   * a dangling record (created first, so GC never sees it unreferenced); the
   * target's own dangling record goes once it has a name.
   */
  private async pointName(name: string, target: Descriptor): Promise<void> {
    const existing = await this.getRecord(name);
    if (!existing) {
      try {
        await this.cc.unary(this.cc.images, this.cc.images.create, { image: { name, target } });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        await this.cc.unary(this.cc.images, this.cc.images.update, { image: { name, target }, updateMask: ['target'] });
      }
    } else if (existing.target?.digest !== target.digest) {
      const old = existing.target ?? {};
      await this.ensureDangling(old, [name]);
      await this.cc.unary(this.cc.images, this.cc.images.update, { image: { name, target }, updateMask: ['target'] });
    }
    await this.deleteRecord(danglingName(target.digest ?? ''), false);
  }

  /**
   * Keeps an image alive under its dangling record if, once the names in
   * `leaving` are gone, no other name points at its target.
   */
  private async ensureDangling(target: Descriptor, leaving: string[] = []): Promise<void> {
    const names = (await this.recordsFor(target.digest ?? '')).map((r) => r.name ?? '');
    if (names.some((n) => !isDanglingName(n) && !leaving.includes(n))) return;
    try {
      await this.cc.unary(this.cc.images, this.cc.images.create, { image: { name: danglingName(target.digest ?? ''), target } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  private async recordsFor(targetDigest: string): Promise<ctrImages.Image[]> {
    const res = await this.cc.unary(this.cc.images, this.cc.images.list, { filters: [`target.digest==${JSON.stringify(targetDigest)}`] });
    return res.images ?? [];
  }

  private async getRecord(name: string): Promise<ctrImages.Image | undefined> {
    try {
      return (await this.cc.unary(this.cc.images, this.cc.images.get, { name })).image;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async deleteRecord(name: string, sync: boolean): Promise<void> {
    try {
      await this.cc.unary(this.cc.images, this.cc.images.delete, { name, sync }, { timeoutMs: sync ? this.importTimeoutMs : undefined });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private withNameLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.nameLock.then(fn, fn);
    this.nameLock = run.catch(() => undefined);
    return run;
  }

  private async createLease(purpose: string): Promise<string> {
    const id = `drydock-${purpose}-${Date.now()}-${randomBytes(4).toString('hex')}`;
    const expire = new Date(Date.now() + this.leaseExpiryMs).toISOString();
    await this.cc.unary(this.cc.leases, this.cc.leases.create, { id, labels: { [GC_LABELS.expire]: expire } });
    return id;
  }

  /** On failure the delete waits for containerd's GC, so whatever the import made is gone when it returns. */
  private async deleteLease(id: string, sync: boolean): Promise<void> {
    try {
      await this.cc.unary(this.cc.leases, this.cc.leases.delete, { id, sync }, { timeoutMs: sync ? this.importTimeoutMs : undefined });
    } catch (err) {
      // The lease expires on its own; GC then takes what nothing else references.
      this.log.warn({ err, leaseId: id }, 'import lease delete failed');
    }
  }
}

/** The name `docker import` gives, or undefined for an untagged import (moby's image_import.go rules). */
function importReference(h: ImportHeader): ImageReference | undefined {
  if (!h.repository) {
    if (h.tag) throw new InvalidArgumentError('tag given without repository');
    return undefined;
  }
  const ref = parseNormalizedNamed(h.repository);
  if (ref.digest !== undefined) throw new InvalidArgumentError('cannot import digest reference');
  return h.tag ? withTag(ref, h.tag) : withDefaultTag(ref);
}

/** The target of `docker tag` (moby's postImagesTag checks). */
export function tagReference(repository: string, tag?: string): ImageReference {
  const ref = parseNormalizedNamed(repository);
  if (ref.digest !== undefined) throw new InvalidArgumentError('refusing to create a tag with a digest reference');
  if (tag) {
    if (isDigest(tag) || /^[a-z0-9]+:[0-9a-f]{32,}$/.test(tag)) throw new InvalidArgumentError('refusing to create an ambiguous tag using digest algorithm as name');
    return withTag(ref, tag);
  }
  return withDefaultTag(ref);
}
