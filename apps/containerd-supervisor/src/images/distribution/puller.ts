import { InternalError, InvalidArgumentError, isAlreadyExists, isFailedPrecondition, isNotFound, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { chainIds, isIndexMediaType, isManifestMediaType, MediaTypes, type ImageConfig, type Index, type Manifest } from '@drydock/oci-spec';
import { addLeaseResource, contentInfo, ContentWriter, FileIngestWriter, setContentLabels, sha256, writeBlob, type Descriptor, type LocalIngest } from '../content';
import type { ImageStore } from '../image-store';
import { GC_LABELS, parsePlatform, type PlatformSpec } from '../image-model';
import { familiarString, parseNormalizedNamed, withDefaultTag, type ImageReference } from '../reference';
import { Limiter, ProgressChannel, ProgressThrottle, shortLayerId, type Progress } from './progress';
import { RegistryError, translatePullError } from './registry-errors';
import type { CallOptions, RegistryClient } from './registry-client';

/** What a pull needs of the registry-proxy client (tests hand in a fake). */
export type PullSource = Pick<RegistryClient, 'getManifest' | 'getBlobBytes' | 'getBlob'>;
import { retryingText, withRetry } from './retry';

export interface PullRequest {
  /** Familiar or normalized reference with tag or digest; no tag means latest. */
  ref: string;
  /** `os/arch[/variant]` picked from an index; default the node's. */
  platform?: string;
  /** X-Registry-Auth as the client sent it. */
  auth?: string;
}

export interface PullResult {
  /** Familiar reference as pulled (`busybox:latest`, `alpine@sha256:…`): the pull event's id. */
  reference: string;
  /** Familiar repository (`busybox`, `127.0.0.1:5000/team/app`): the pull event's name attribute. */
  repository: string;
  /** `sha256:<config digest>`. */
  imageId: string;
  /** False when the image was already there under that name ("Image is up to date"). */
  updated: boolean;
}

export interface DistributionOptions {
  /** Parallel layer downloads (dockerd's max-concurrent-downloads is 3). */
  maxConcurrentDownloads: number;
  /** Parallel layer uploads (dockerd's max-concurrent-uploads is 5). */
  maxConcurrentUploads: number;
  /** How long transient failures of the proxy are retried before a pull or push fails. */
  retryWindowMs: number;
  /** Deadline of one content write stream to containerd (a whole layer). */
  contentTimeoutMs: number;
  /** zlib level of layers compressed for push (Docker uses 6; 1 is ~3x faster for ~10 % more bytes). */
  gzipLevel: number;
}

/** Label on pulled blobs naming the repositories they came from, per registry (containerd's convention); push mounts from them. */
export const SOURCE_LABEL = (domain: string) => `containerd.io/distribution.source.${domain}`;

const SCHEMA1_TYPES = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);
const MAX_COMMIT_RESTARTS = 2;

interface Resolved {
  /** What the tag (or digest) points at: a manifest or an index. */
  top: { desc: Descriptor; body: Buffer };
  manifest: Manifest;
  manifestDesc: Descriptor;
  manifestBody: Buffer;
  /** Position of the manifest in the index, when there is one. */
  indexPosition?: number;
  /** The index entry the image store would pick for the node's default platform is this manifest. */
  isDefaultPlatform: boolean;
  config: ImageConfig;
  configBody: Buffer;
}

/**
 * `docker pull` (moby's distribution/pull_v2.go + xfer): resolves the
 * reference through the registry-proxy, downloads missing layers (at most
 * maxConcurrentDownloads at a time, resumable, retried) into containerd's
 * content store under a lease, unpacks each layer as soon as it and its parent
 * are ready, then names the image. Everything is written under one lease: a
 * failed or cancelled pull leaves nothing behind.
 */
export class ImagePuller {
  private readonly log: Logger;
  /** Blobs being downloaded by some pull of this process; settles (never rejects) when that download ends. */
  private readonly downloading = new Map<string, Promise<void>>();

  constructor(
    private readonly store: ImageStore,
    private readonly registry: PullSource,
    logger: Logger,
    private readonly opts: DistributionOptions,
    /** containerd's ingests as files on this machine: layers are written there instead of over gRPC. */
    private readonly local?: LocalIngest,
  ) {
    this.log = logger.child({ component: 'image-puller' });
  }

  /**
   * Yields Docker's progress messages and returns the result. Errors before the
   * first message (bad reference, unknown manifest, refused credentials) are
   * thrown as taxonomy errors with dockerd's words.
   */
  async *pull(req: PullRequest, signal: AbortSignal): AsyncGenerator<Progress, PullResult> {
    const ref = withDefaultTag(parseNormalizedNamed(req.ref));
    const platform = parsePlatform(req.platform || undefined, this.store.defaultPlatform);
    const o: CallOptions = { auth: req.auth || undefined, signal };
    const started = Date.now();
    let resolved: Resolved;
    try {
      resolved = await this.resolve(ref, platform, o);
    } catch (err) {
      throw this.failure(err, ref, signal);
    }
    const ch = new ProgressChannel<Progress>();
    const work = this.store.withLease('pull', (leaseId) => this.fetch(ref, resolved, leaseId, ch, o)).then(
      (r) => {
        ch.close();
        return r;
      },
      (err) => {
        const e = this.failure(err, ref, signal);
        ch.close(e);
        throw e;
      },
    );
    work.catch(() => undefined);
    yield* ch;
    const res = await work;
    this.log.info({ ref: res.reference, imageId: res.imageId, updated: res.updated, ms: Date.now() - started }, 'image pulled');
    return res;
  }

  private failure(err: unknown, ref: ImageReference, signal: AbortSignal) {
    if (signal.aborted) return new UnavailableError('pull cancelled by the client', { cause: err });
    return translatePullError(err, ref);
  }

  // ------------------------------------------------------------------------------------- resolve

  private async resolve(ref: ImageReference, platform: PlatformSpec, o: CallOptions): Promise<Resolved> {
    const get = (reference: string) =>
      withRetry(() => this.registry.getManifest(ref.name, reference, o), { windowMs: this.opts.retryWindowMs, signal: o.signal, upstreamUnavailable: false });
    const top = await get(ref.digest ?? ref.tag!);
    const topDigest = sha256(top.body);
    if (ref.digest && topDigest !== ref.digest) throw new InternalError(`manifest verification failed for digest ${ref.digest}`);
    const topParsed = parseJson<{ mediaType?: string; schemaVersion?: number }>(top.body, 'manifest');
    const mediaType = top.mediaType && top.mediaType !== 'application/json' ? top.mediaType : topParsed.mediaType ?? '';
    if (SCHEMA1_TYPES.has(mediaType) || topParsed.schemaVersion === 1) {
      throw new InvalidArgumentError(`${familiarString(ref)}: Docker Image manifest v2, Schema 1 is not supported: push the image again with a current docker`);
    }
    const topDesc: Descriptor = { mediaType, digest: topDigest, size: String(top.body.length) };

    let manifestBody = top.body;
    let manifestDesc = topDesc;
    let indexPosition: number | undefined;
    let isDefaultPlatform = true;
    if (isIndexMediaType(mediaType)) {
      const index = parseJson<Index>(top.body, 'index');
      const pick = pickManifest(index, platform);
      if (pick < 0) throw new InternalError(`no matching manifest for ${platformString(platform)} in the manifest list entries`);
      const entry = index.manifests[pick];
      const m = await get(entry.digest);
      if (sha256(m.body) !== entry.digest) throw new InternalError(`manifest verification failed for digest ${entry.digest}`);
      manifestBody = m.body;
      manifestDesc = { mediaType: entry.mediaType, digest: entry.digest, size: String(m.body.length) };
      indexPosition = pick;
      isDefaultPlatform = pickManifest(index, this.store.defaultPlatform) === pick;
    } else if (!isManifestMediaType(mediaType)) {
      throw new InvalidArgumentError(`unsupported media type ${mediaType}`);
    }
    const manifest = parseJson<Manifest>(manifestBody, 'manifest');
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new InternalError(`invalid manifest ${manifestDesc.digest}: no config or layers`);
    for (const l of manifest.layers) {
      if (l.mediaType === MediaTypes.DockerForeignLayerGzip || (l.urls && l.urls.length)) throw new InvalidArgumentError('foreign layers are not supported');
    }
    const configBody = await withRetry(() => this.registry.getBlobBytes(ref.name, manifest.config.digest, o), {
      windowMs: this.opts.retryWindowMs,
      signal: o.signal,
      upstreamUnavailable: true,
    });
    if (sha256(configBody) !== manifest.config.digest) throw new InternalError(`image config verification failed for digest ${manifest.config.digest}`);
    const config = parseJson<ImageConfig>(configBody, 'image config');
    if ((config.rootfs?.diff_ids ?? []).length !== manifest.layers.length) throw new InternalError("layers from manifest don't match image configuration");
    return { top: { desc: topDesc, body: top.body }, manifest, manifestDesc, manifestBody, indexPosition, isDefaultPlatform, config, configBody };
  }

  // --------------------------------------------------------------------------------------- fetch

  private async fetch(ref: ImageReference, r: Resolved, leaseId: string, ch: ProgressChannel<Progress>, o: CallOptions): Promise<PullResult> {
    const cc = this.store.containerd;
    const imageId = r.manifest.config.digest;
    const diffIds = r.config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    ch.push({ id: ref.digest ? familiarString(ref) : ref.tag!, status: `Pulling from ${ref.path}` });

    // dockerd skips the layers entirely when it has the image (the config) already.
    const known = await this.imageExists(imageId);
    if (!known) await this.fetchLayers(ref, r, chains, leaseId, ch, o);
    else if (chains.length) await addLeaseResource(cc, leaseId, { id: chains[chains.length - 1], type: `snapshots/${this.store.snapshotterName}` });

    // Metadata last, each after what it references: GC labels never point at missing content.
    const timeoutMs = this.opts.contentTimeoutMs;
    const configLabels: Record<string, string> = chains.length ? { [GC_LABELS.snapshot(this.store.snapshotterName)]: chains[chains.length - 1] } : {};
    await writeBlob(cc, r.configBody, configLabels, { leaseId, timeoutMs });
    const manifestLabels: Record<string, string> = { [GC_LABELS.contentConfig]: imageId };
    r.manifest.layers.forEach((l, i) => (manifestLabels[GC_LABELS.contentLayer(i)] = l.digest));
    await writeBlob(cc, r.manifestBody, manifestLabels, { leaseId, timeoutMs });
    if (r.indexPosition !== undefined) {
      await writeBlob(cc, r.top.body, { [GC_LABELS.contentManifest(r.indexPosition)]: r.manifestDesc.digest ?? '' }, { leaseId, timeoutMs });
    }

    // A by-digest pull records only the digest name, as Docker does.
    const digestName = `${ref.name}@${r.top.desc.digest}`;
    const primary = ref.digest ? digestName : ref.toString();
    const names = ref.digest ? [digestName] : [primary, digestName];
    const before = await this.imageIdOf(primary);
    // An index is the record's target only if the image store reads the same manifest back from it.
    const target = r.indexPosition === undefined || r.isDefaultPlatform ? r.top.desc : r.manifestDesc;
    await this.store.nameImage(names, target);
    const updated = before !== imageId;
    ch.push({ id: '', status: `Digest: ${r.top.desc.digest}` });
    ch.push({ id: '', status: `Status: ${updated ? 'Downloaded newer image for' : 'Image is up to date for'} ${familiarString(ref)}` });
    return { reference: familiarString(ref), repository: ref.familiarName, imageId, updated };
  }

  private async fetchLayers(ref: ImageReference, r: Resolved, chains: string[], leaseId: string, ch: ProgressChannel<Progress>, o: CallOptions): Promise<void> {
    const layers = r.manifest.layers;
    const diffIds = r.config.rootfs.diff_ids;
    const present = await Promise.all(chains.map((c) => this.store.hasSnapshot(c)));
    for (const [i, l] of layers.entries()) ch.push({ id: shortLayerId(l.digest), status: present[i] ? 'Already exists' : 'Pulling fs layer' });

    // One failure stops the other downloads; the lease then takes what they wrote.
    const ac = new AbortController();
    const onAbort = () => ac.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const inner: CallOptions = { auth: o.auth, signal: ac.signal };
    const limiter = new Limiter(this.opts.maxConcurrentDownloads);
    const downloads = new Map<string, Promise<void>>();
    let scheduled = 0;
    const downloadOf = (i: number): Promise<void> => {
      const l = layers[i];
      let d = downloads.get(l.digest);
      if (!d) {
        if (scheduled++ >= this.opts.maxConcurrentDownloads) ch.push({ id: shortLayerId(l.digest), status: 'Waiting' });
        d = this.download(ref, l, diffIds[i], leaseId, limiter, ch, inner);
        d.catch(() => ac.abort());
        downloads.set(l.digest, d);
      }
      return d;
    };
    const pending = layers.map((_, i) => (present[i] ? undefined : downloadOf(i)));
    try {
      for (const [i, l] of layers.entries()) {
        const desc: Descriptor = { mediaType: l.mediaType, digest: l.digest, size: String(l.size) };
        const parent = i > 0 ? chains[i - 1] : undefined;
        if (present[i]) {
          // Only adds the existing snapshot to the lease.
          await this.store.unpack(desc, chains[i], parent, leaseId, diffIds[i]);
          continue;
        }
        await pending[i];
        if (ac.signal.aborted) throw ac.signal.reason ?? new UnavailableError('pull aborted');
        const id = shortLayerId(l.digest);
        await this.store.unpack(desc, chains[i], parent, leaseId, diffIds[i]);
        ch.push({ id, status: 'Extracting', current: l.size, total: l.size });
        ch.push({ id, status: 'Pull complete' });
      }
    } catch (err) {
      ac.abort(err);
      // Let the downloads settle before the lease goes, so none writes into a deleted lease.
      await Promise.allSettled(pending);
      throw firstError(err, await Promise.allSettled(pending));
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Downloads one layer blob into the content store, resuming and retrying; "Download complete" at the end. */
  private async download(ref: ImageReference, l: Manifest['layers'][number], diffId: string, leaseId: string, limiter: Limiter, ch: ProgressChannel<Progress>, o: CallOptions): Promise<void> {
    const id = shortLayerId(l.digest);
    const cc = this.store.containerd;
    const labels = { [GC_LABELS.uncompressed]: diffId, [SOURCE_LABEL(ref.domain)]: ref.path };
    // Another pull in this process is downloading the same blob (and holds its ingest ref):
    // wait for it, then reuse its blob (or take over if it failed or was cancelled).
    for (let other = this.downloading.get(l.digest); other; other = this.downloading.get(l.digest)) {
      await Promise.race([other, abortable(o.signal)]);
    }
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.downloading.set(l.digest, mine);
    const release = await limiter.acquire();
    try {
      let restarts = 0;
      await withRetry(
        async () => {
          if (o.signal?.aborted) throw o.signal.reason;
          // Present already (an earlier pull, or a concurrent one that finished first): reuse it.
          const info = await contentInfo(cc, l.digest);
          if (info) {
            await addLeaseResource(cc, leaseId, { id: l.digest, type: 'content' });
            await setContentLabels(cc, l.digest, mergeSource(info.labels ?? {}, labels, ref.domain));
            return;
          }
          const res = await this.downloadOnce(ref, l, leaseId, labels, ch, o);
          if (res === 'restart') {
            if (++restarts > MAX_COMMIT_RESTARTS) throw new InternalError(`filesystem layer verification failed for digest ${l.digest}`);
            throw new RegistryError(0, [], `layer ${l.digest} did not verify; fetching it again`, 'EDIGEST');
          }
          if (res === 'existed') await setContentLabels(cc, l.digest, labels);
        },
        {
          windowMs: this.opts.retryWindowMs,
          signal: o.signal,
          upstreamUnavailable: true,
          onWait: (s) => ch.push({ id, status: retryingText(s) }),
          onRetry: (err, attempt) => this.log.warn({ err, digest: l.digest, attempt }, 'layer download retried'),
        },
      );
      ch.push({ id, status: 'Download complete' });
    } finally {
      this.downloading.delete(l.digest);
      done();
      release();
    }
  }

  /**
   * One attempt: opens the layer's ingest (a stable ref per digest, so an
   * interrupted attempt's bytes are kept), fetches the rest with a Range
   * request and commits; containerd checks size and digest. 'restart' when the
   * ingest did not verify (it is dropped: the next attempt starts from zero).
   */
  private async downloadOnce(
    ref: ImageReference,
    l: Manifest['layers'][number],
    leaseId: string,
    labels: Record<string, string>,
    ch: ProgressChannel<Progress>,
    o: CallOptions,
  ): Promise<'ok' | 'existed' | 'restart'> {
    const cc = this.store.containerd;
    const id = shortLayerId(l.digest);
    const ingest = `drydock-pull-${l.digest}`;
    const writer = () => {
      const wo = { leaseId, timeoutMs: this.opts.contentTimeoutMs };
      return this.local ? new FileIngestWriter(cc, this.local, ingest, wo, this.log) : new ContentWriter(cc, ingest, wo);
    };
    let w = writer();
    let offset = await w.open();
    if (offset > l.size) {
      await w.abort();
      w = writer();
      offset = await w.open();
    }
    // dockerd's progress reader sends at most one Downloading per 100 ms per layer (a rate
    // limiter), not one per 512 KiB: ~200 messages less per 100 MB through gRPC, the gateway and the CLI.
    const throttle = new ProgressThrottle(Number.MAX_SAFE_INTEGER, 100);
    try {
      if (offset < l.size) {
        const blob = await this.registry.getBlob(ref.name, l.digest, offset, o);
        if (blob.start !== offset) {
          // The server ignored the Range: start the ingest over.
          await w.abort();
          w = writer();
          offset = await w.open();
          if (offset !== 0) throw new RegistryError(0, [], 'ingest not reset', 'EINGEST');
        }
        for await (const chunk of blob.body) {
          if (offset + chunk.length > l.size) throw new InternalError(`layer ${l.digest} is larger than the ${l.size} bytes its manifest says`);
          await w.write(chunk);
          offset += chunk.length;
          if (throttle.shouldReport(offset, l.size)) ch.push({ id, status: 'Downloading', current: offset, total: l.size });
        }
      }
      ch.push({ id, status: 'Verifying Checksum' });
    } catch (err) {
      await w.detach();
      throw err;
    }
    try {
      const res = await w.commit(l.size, l.digest, labels);
      if (res.existed) await addLeaseResource(cc, leaseId, { id: l.digest, type: 'content' });
      return res.existed ? 'existed' : 'ok';
    } catch (err) {
      if (isAlreadyExists(err)) return 'existed';
      if (isFailedPrecondition(err) || err instanceof InternalError) {
        await w.abort();
        this.log.warn({ err, digest: l.digest }, 'layer did not verify; ingest dropped');
        return 'restart';
      }
      throw err;
    }
  }

  private async imageExists(imageId: string): Promise<boolean> {
    return (await this.imageIdOf(imageId)) === imageId;
  }

  private async imageIdOf(ref: string): Promise<string | undefined> {
    try {
      return (await this.store.resolveImage(ref)).id;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** The first index entry for `p` (the image store's own rule: os and architecture, variant when both name one). */
export function pickManifest(index: Index, p: PlatformSpec): number {
  return (index.manifests ?? []).findIndex(
    (d) =>
      isManifestMediaType(d.mediaType ?? '') &&
      d.platform?.os === p.os &&
      d.platform?.architecture === p.architecture &&
      (!d.platform.variant || !p.variant || d.platform.variant === p.variant),
  );
}

export function platformString(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Adds `labels` to a blob's labels, keeping the repositories already listed in the source label (comma-separated). */
export function mergeSource(existing: Record<string, string>, labels: Record<string, string>, domain: string): Record<string, string> {
  const key = SOURCE_LABEL(domain);
  const repos = new Set((existing[key] ?? '').split(',').filter(Boolean));
  for (const r of (labels[key] ?? '').split(',').filter(Boolean)) repos.add(r);
  return { ...labels, [key]: [...repos].join(',') };
}

/** Never resolves; rejects with the signal's reason when it aborts. */
function abortable(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function parseJson<T>(body: Buffer, what: string): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (err) {
    throw new InternalError(`invalid ${what} JSON from the registry`, { cause: err });
  }
}

/** The error that started a failure: a download's own error rather than the abort it caused elsewhere. */
function firstError(err: unknown, settled: PromiseSettledResult<void>[]): unknown {
  const real = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && (s.reason as Error)?.name !== 'AbortError');
  return (err as Error)?.name === 'AbortError' && real ? real.reason : err;
}

