import { createHash, randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { lstat, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isAlreadyExists, isNotFound } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { applyChanges, chainIds, MediaTypes, type ImageRunConfig, type Manifest } from '@drydock/oci-spec';
import type { supervisorV1, ctrTypesMount } from '@drydock/proto';
import { RUNTIME_MOUNTPOINTS } from '../../archives/changes';
import { cleanContainerPath, resolveInRoot } from '../../archives/root-path';
import { overlayLayers, type RootfsMounter } from '../../archives/rootfs-mounter';
import { addLeaseResource, ContentWriter, FileIngestWriter, ingestRef, LEASE_HEADER, writeBlob, type Descriptor, type LocalIngest } from '../content';
import { GC_LABELS } from '../image-model';
import { IMAGE_METADATA_PREFIX, tagReference, type ImageStore, type ResolvedImage } from '../image-store';
import { referenceString, familiarString } from '../reference';
import { childImageConfig, commitMerge, EMPTY_LAYER_DIFF_ID, marshalImageConfig } from './commit-config';
import { upperDiffTar } from './layer-diff';

type Mount = ctrTypesMount.Mount;

/** What a commit needs to know about containers (the container manager answers). */
export interface CommitContainers {
  inspect(ref: string): supervisorV1.ContainerInfo;
  rootfsTarget(ref: string): Promise<{ id: string; mounts: Mount[]; mountTargets: string[] }>;
  pause(ref: string): Promise<void>;
  resume(ref: string): Promise<void>;
}

export interface CommitRequest {
  containerId?: string;
  parentImage?: string;
  pause?: boolean;
  repository?: string;
  tag?: string;
  changes?: string[];
  comment?: string;
  author?: string;
  config?: ImageRunConfig;
  containerConfig?: ImageRunConfig;
  recordedContainer?: string;
  metadataLabels?: Record<string, string>;
  /** The (exited) container is removed after the commit: its snapshot becomes the layer's. */
  consume?: boolean;
}

export interface CommitResult {
  id: string;
  emptyLayer: boolean;
  /** Familiar name given, if any. */
  name?: string;
  /** The committed container (for its event). */
  container?: supervisorV1.ContainerInfo;
}

export interface ImagePathInfo {
  path: string;
  resolved: string;
  exists: boolean;
  isDir: boolean;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  content?: Buffer;
}

const TIMEOUT_MS = 60 * 60 * 1000;

/** The Docker config of a container as dockerd keeps it (container.Config), from the supervisor's record. */
export function containerDockerConfig(c: supervisorV1.ContainerConfig, image: ImageRunConfig | undefined): ImageRunConfig {
  const list = (l: { values?: string[] } | undefined) => (l?.values?.length ? [...l.values] : null);
  const ports = Object.fromEntries((c.exposedPorts ?? []).map((p) => [p, {}]));
  return {
    Hostname: c.hostname ?? '',
    Domainname: c.domainname ?? '',
    User: c.user ?? '',
    AttachStdin: !!c.attachStdin,
    AttachStdout: !!c.attachStdout,
    AttachStderr: !!c.attachStderr,
    ...(Object.keys(ports).length ? { ExposedPorts: ports } : {}),
    Tty: !!c.tty,
    OpenStdin: !!c.openStdin,
    StdinOnce: !!c.stdinOnce,
    Env: c.env?.length ? [...c.env] : null,
    Cmd: list(c.cmd),
    ...(image?.Healthcheck ? { Healthcheck: image.Healthcheck } : {}),
    Image: c.image ?? '',
    Volumes: image?.Volumes ?? null,
    WorkingDir: c.workingDir ?? '',
    Entrypoint: list(c.entrypoint),
    OnBuild: null,
    Labels: c.labels && Object.keys(c.labels).length ? { ...c.labels } : {},
    ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
  };
}

/**
 * Images made from containers and layers (dockerd's CommitImage / the builder's CreateImage):
 * `docker commit` and every step of a Dockerfile build. Everything is written under one lease, so a
 * failure leaves no content or snapshot behind.
 */
export class ImageCommitter {
  private readonly log: Logger;

  constructor(
    private readonly images: ImageStore,
    private readonly containers: CommitContainers,
    private readonly mounter: RootfsMounter,
    private readonly xattr: (path: string, name: string) => Promise<string | undefined>,
    logger: Logger,
    /** containerd's content store reached through the filesystem (as pulls do): no gRPC copy of the layer. */
    private readonly local?: LocalIngest,
  ) {
    this.log = logger.child({ component: 'image-committer' });
  }

  async commit(req: CommitRequest, layer?: AsyncIterable<Buffer>): Promise<CommitResult> {
    // Refusable input first, before any work.
    const ref = req.repository ? tagReference(req.repository, req.tag || undefined) : undefined;
    if (!req.repository && req.tag) throw new InvalidArgumentError('tag given without repository');
    if (req.containerId && layer) throw new InvalidArgumentError('a commit takes a container or a layer tar, not both');
    let info: supervisorV1.ContainerInfo | undefined;
    if (req.containerId) {
      info = this.containers.inspect(req.containerId);
      const st = info.state?.status;
      if (st === 'dead') throw new FailedPreconditionError(`You cannot commit container ${info.id} which is Dead`);
      if (st === 'removing') throw new FailedPreconditionError(`You cannot commit container ${info.id} which is being removed`);
    }
    const parentRef = info ? info.imageId ?? '' : req.parentImage ?? '';
    const parent = parentRef ? await this.images.resolveImage(parentRef) : undefined;
    const changes = (req.changes ?? []).filter((c) => c !== '');
    let config: ImageRunConfig;
    let containerConfig: ImageRunConfig;
    if (info) {
      const own = containerDockerConfig(info.config ?? {}, parent?.config.config);
      // docker commit merges the container's own config in (daemon/commit.go); a build step that names
      // its container_config commits its config as given (CommitBuildStep)
      config = req.containerConfig ? applyChanges(req.config ?? own, changes) : commitMerge(applyChanges(req.config ?? own, changes), own);
      containerConfig = req.containerConfig ?? own;
    } else {
      config = applyChanges(req.config ?? parent?.config.config ?? {}, changes);
      containerConfig = req.containerConfig ?? config;
    }

    const started = Date.now();
    const phases: Record<string, number> = {};
    const mark = (name: string) => (phases[name] = Date.now() - started);
    const result = await this.images.withLease('commit', async (leaseId) => {
      mark('lease');
      let newLayer: { desc: Descriptor; diffId: string; entries: number; upper?: string; skipped?: string[] } | undefined;
      if (info) newLayer = await this.containerLayer(info, !!req.pause, leaseId);
      else if (layer) newLayer = await this.images.ingestUncompressedLayer(layer, leaseId);
      mark('layer');
      const empty = !newLayer || newLayer.entries === 0 || newLayer.diffId === EMPTY_LAYER_DIFF_ID;
      const parentDiffIds = parent?.diffIds ?? [];
      const parentChain = parent?.chainId || undefined;
      let chain = parentChain;
      if (!empty) {
        chain = chainIds([...parentDiffIds, newLayer!.diffId]).at(-1)!;
        const consumable = req.consume && info && info.state?.status !== 'running' && info.state?.status !== 'paused' && newLayer!.upper;
        if (!consumable || !(await this.consumeSnapshot(info!.id ?? '', newLayer!.skipped ?? [], chain, leaseId))) {
          await this.images.unpack(newLayer!.desc, chain, parentChain, leaseId, newLayer!.diffId);
        }
        mark('unpack');
      }
      const created = new Date().toISOString();
      const imageConfig = childImageConfig({
        parent: parent?.config,
        config,
        containerConfig,
        containerId: info?.id ?? req.recordedContainer,
        author: req.author,
        comment: req.comment,
        diffId: empty ? undefined : newLayer!.diffId,
        created,
        platform: this.images.defaultPlatform,
      });
      const labels: Record<string, string> = {};
      if (chain) labels[GC_LABELS.snapshot(this.images.snapshotterName)] = chain;
      if (parent) labels[`${IMAGE_METADATA_PREFIX}parent`] = parent.id;
      for (const [k, v] of Object.entries(req.metadataLabels ?? {})) labels[`${IMAGE_METADATA_PREFIX}${k}`] = v;
      const cc = this.images.containerd;
      const configDesc = await writeBlob(cc, marshalImageConfig(imageConfig), labels, { leaseId, timeoutMs: TIMEOUT_MS });
      const layers = [...(parent?.manifest.layers ?? [])];
      if (!empty) layers.push({ mediaType: MediaTypes.OciLayer, digest: newLayer!.diffId, size: Number(newLayer!.desc.size) });
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MediaTypes.OciManifest,
        config: { mediaType: MediaTypes.OciConfig, digest: configDesc.digest, size: configDesc.size },
        layers,
      };
      const manifestLabels: Record<string, string> = { [GC_LABELS.contentConfig]: configDesc.digest };
      layers.forEach((l, i) => (manifestLabels[GC_LABELS.contentLayer(i)] = l.digest));
      const manifestDesc = await writeBlob(cc, Buffer.from(JSON.stringify(manifest)), manifestLabels, { leaseId, timeoutMs: TIMEOUT_MS });
      const target: Descriptor = { mediaType: MediaTypes.OciManifest, digest: manifestDesc.digest, size: String(manifestDesc.size) };
      mark('blobs');
      await this.images.nameImage(ref ? [referenceString(ref)] : [], target);
      mark('name');
      return { id: configDesc.digest, emptyLayer: empty };
    });
    this.log.info({ imageId: result.id, containerId: info?.id, parent: parent?.id, emptyLayer: result.emptyLayer, ms: Date.now() - started, phases }, 'image committed');
    return { ...result, name: ref && familiarString(ref), container: info };
  }

  /**
   * The container's snapshot committed as `chain`, once the runtime's empty mount points (left out of the
   * layer blob) are gone from it: snapshot and blob then hold the same files, and the layer is not
   * extracted a second time. False when the snapshot cannot be committed (then the layer is unpacked).
   */
  private async consumeSnapshot(containerId: string, skipped: string[], chain: string, leaseId: string): Promise<boolean> {
    const cc = this.images.containerd;
    const snapshotter = this.images.snapshotterName;
    for (const p of [...skipped].reverse()) await rm(p, { recursive: true, force: true }).catch(() => undefined);
    try {
      await cc.unary(cc.snapshots, cc.snapshots.commit, { snapshotter, name: chain, key: containerId }, { metadata: { [LEASE_HEADER]: leaseId } });
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) {
        // the same layer was committed before: keep that one (the container's snapshot goes with it)
        await addLeaseResource(cc, leaseId, { id: chain, type: `snapshots/${snapshotter}` });
        return true;
      }
      this.log.warn({ err, containerId }, 'container snapshot not committed; unpacking the layer instead');
      return false;
    }
  }

  /** The container's writable layer as a layer blob (paused meanwhile when asked and running). */
  private async containerLayer(info: supervisorV1.ContainerInfo, pause: boolean, leaseId: string): Promise<{ desc: Descriptor; diffId: string; entries: number; upper?: string; skipped?: string[] }> {
    const id = info.id ?? '';
    const t = await this.containers.rootfsTarget(id);
    const layers = overlayLayers(t.mounts);
    if (!layers?.upper) throw new FailedPreconditionError(`container ${id} has no writable layer`);
    const paused = pause && info.state?.status === 'running';
    if (paused) await this.containers.pause(id);
    try {
      const stats = { entries: 0, skipped: [] as string[] };
      const lowerIsDir = (path: string) =>
        layers.lowers.some((dir) => {
          try {
            return lstatSync(join(dir, path)).isDirectory();
          } catch {
            return false;
          }
        });
      const hidden = new Set([...RUNTIME_MOUNTPOINTS, ...t.mountTargets.map(cleanContainerPath)]);
      const res = await this.writeLayer(upperDiffTar({ upper: layers.upper, hidden, lowerIsDir, xattr: this.xattr }, stats), leaseId);
      return { desc: res.desc, diffId: res.diffId, entries: stats.entries, upper: layers.upper, skipped: stats.skipped };
    } finally {
      if (paused) await this.containers.resume(id).catch((err) => this.log.warn({ err, containerId: id }, 'resume after commit failed'));
    }
  }

  /** A layer tar we made ourselves (no validation needed) into the content store, hashed on the way. */
  private async writeLayer(chunks: AsyncIterable<Buffer>, leaseId: string): Promise<{ desc: Descriptor; diffId: string }> {
    const cc = this.images.containerd;
    const ref = ingestRef('drydock-commit');
    const opts = { leaseId, timeoutMs: TIMEOUT_MS };
    const w = this.local ? new FileIngestWriter(cc, this.local, ref, opts, this.log) : new ContentWriter(cc, ref, opts);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await w.open();
      for await (const c of chunks) {
        hash.update(c);
        size += c.length;
        await w.write(c);
      }
      const diffId = `sha256:${hash.digest('hex')}`;
      const res = await w.commit(size, diffId, { [GC_LABELS.uncompressed]: diffId });
      if (res.existed) await addLeaseResource(cc, leaseId, { id: diffId, type: 'content' });
      return { desc: { mediaType: MediaTypes.OciLayer, digest: diffId, size: String(size) }, diffId };
    } catch (err) {
      await w.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Stats (and small contents) of paths in an image's root filesystem, symlinks resolved inside it. */
  async readImagePaths(imageRef: string, paths: string[], readLimit: number): Promise<ImagePathInfo[]> {
    const missing = (p: string): ImagePathInfo => ({ path: p, resolved: cleanContainerPath(p), exists: false, isDir: false, mode: 0, uid: 0, gid: 0, mtimeMs: 0 });
    if (!imageRef) return paths.map(missing);
    const img: ResolvedImage = await this.images.resolveImage(imageRef);
    if (!img.chainId) return paths.map(missing);
    return this.images.withLease('view', async (leaseId) => {
      const cc = this.images.containerd;
      const key = `view-${Date.now()}-${randomBytes(4).toString('hex')}`;
      const snapshotter = this.images.snapshotterName;
      const view = await cc.unary(cc.snapshots, cc.snapshots.view, { snapshotter, key, parent: img.chainId }, { metadata: { [LEASE_HEADER]: leaseId } });
      try {
        const root = await this.mounter.mount(view.mounts ?? [], false);
        try {
          const out: ImagePathInfo[] = [];
          for (const p of paths) {
            const r = await resolveInRoot(root.root, p.startsWith('/') ? p : `/${p}`, true);
            const st = await lstat(r.hostPath).catch(() => undefined);
            if (!st) {
              out.push({ ...missing(p), resolved: r.containerPath });
              continue;
            }
            const info: ImagePathInfo = { path: p, resolved: r.containerPath, exists: true, isDir: st.isDirectory(), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
            if (readLimit > 0 && st.isFile() && st.size <= readLimit) info.content = await readFile(r.hostPath);
            out.push(info);
          }
          return out;
        } finally {
          await root.release();
        }
      } finally {
        await cc.unary(cc.snapshots, cc.snapshots.remove, { snapshotter, key }).catch((err) => {
          if (!isNotFound(err)) this.log.warn({ err, key }, 'view snapshot removal failed');
        });
      }
    });
  }
}
