import { createHash } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { FailedPreconditionError, fromGrpcError, InvalidArgumentError, isNotFound, NotFoundError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { isManifestMediaType, MediaTypes, type Manifest } from '@drydock/oci-spec';
import type { ctrContent } from '@drydock/proto';
import type { ContainerdClient } from '../../containerd/containerd-client';
import { addLeaseResource, contentInfo, ContentWriter, readBlob, setContentLabels, sha256, writeBlob } from '../content';
import type { ImageStore, ResolvedImage } from '../image-store';
import { GC_LABELS } from '../image-model';
import { familiarString, parseNormalizedNamed, withTag, type ImageReference } from '../reference';
import { Limiter, ProgressChannel, ProgressThrottle, shortLayerId, type Progress } from './progress';
import { mergeSource, SOURCE_LABEL, type DistributionOptions } from './puller';
import { RegistryError, translatePushError } from './registry-errors';
import type { CallOptions, RegistryClient } from './registry-client';
import { retryingText, withRetry } from './retry';

export interface PushRequest {
  /** Repository with optional tag; without a tag every tag of the repository is pushed. */
  ref: string;
  auth?: string;
}

export interface PushedTag {
  /** Familiar `repo:tag`: the push event's id. */
  reference: string;
  /** Familiar repository: the push event's name attribute. */
  repository: string;
  tag: string;
  digest: string;
  size: number;
  imageId: string;
}

/** Label on an uncompressed layer blob naming its gzip-compressed twin made for push (reused by the next push). */
export const GZIP_LABEL = 'drydock.io/gzip';

/** sha256 of nothing: the blob the first contact asks about (any answer will do). */
const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const UNCOMPRESSED_LAYERS = new Set<string>([MediaTypes.OciLayer, MediaTypes.DockerLayer]);

/**
 * `docker push` (moby's distribution/push_v2.go): per tag, each layer is
 * checked (HEAD), mounted from a repository it was pulled from on the same
 * registry, or uploaded monolithically; uncompressed layers (docker import)
 * are gzip-compressed into a new content blob first. The manifest pushed is
 * the pulled one, byte for byte, when the layers are unchanged; otherwise a
 * Docker schema2 manifest as dockerd 20.10 writes it.
 */
export class ImagePusher {
  private readonly log: Logger;

  constructor(
    private readonly store: ImageStore,
    private readonly registry: RegistryClient,
    logger: Logger,
    private readonly opts: DistributionOptions,
  ) {
    this.log = logger.child({ component: 'image-pusher' });
  }

  async *push(req: PushRequest, signal: AbortSignal): AsyncGenerator<Progress, PushedTag[]> {
    const repo = parseNormalizedNamed(req.ref);
    if (repo.digest !== undefined) throw new InvalidArgumentError('cannot push a digest reference');
    const o: CallOptions = { auth: req.auth || undefined, signal };
    yield { id: '', status: `The push refers to repository [${repo.name}]` };
    // dockerd's order: the repository has no name here at all, the registry cannot be reached, then the tag is missing.
    const local = await this.namesOf(repo);
    if (!local.any) throw new NotFoundError(`An image does not exist locally with the tag: ${repo.familiarName}`);
    await this.reach(repo, o);
    const tags = repo.tag ? [repo] : local.tags;
    if (tags.length === 0) throw new NotFoundError(`no tags to push for ${repo.familiarName}`);
    const out: PushedTag[] = [];
    for (const tagRef of tags) {
      let img: ResolvedImage;
      try {
        img = await this.store.resolveImage(tagRef.toString());
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new NotFoundError(`tag does not exist: ${familiarString(tagRef)}`, { cause: err });
      }
      const ch = new ProgressChannel<Progress>();
      const work = this.store.withLease('push', (leaseId) => this.pushTag(tagRef, img, leaseId, ch, o)).then(
        (r) => {
          ch.close();
          return r;
        },
        (err) => {
          const e = signal.aborted ? new UnavailableError('push cancelled by the client', { cause: err }) : translatePushError(err);
          ch.close(e);
          throw e;
        },
      );
      work.catch(() => undefined);
      yield* ch;
      out.push(await work);
    }
    return out;
  }

  /**
   * Every tag of the repository, in lexical order (dockerd's reference store order),
   * and whether it has any name at all (a digest name counts, as in dockerd).
   */
  private async namesOf(repo: ImageReference): Promise<{ tags: ImageReference[]; any: boolean }> {
    const tags = new Set<string>();
    let any = false;
    for (const row of await this.store.listImages({})) {
      for (const t of row.repoTags) {
        const r = parseNormalizedNamed(t);
        if (r.name === repo.name && r.tag) tags.add(r.tag);
      }
      any ||= row.repoDigests.some((d) => parseNormalizedNamed(d).name === repo.name);
    }
    return { tags: [...tags].sort().map((t) => withTag(repo, t)), any: any || tags.size > 0 };
  }

  /**
   * The first contact, as dockerd's /v2/ ping before a push: a registry that cannot
   * be reached fails the push at once, with the connection error and no retries
   * (those are for transfers under way). Any answer of the registry, even a refusal,
   * means it is there: the layers' own requests then say what it refuses.
   */
  private async reach(repo: ImageReference, o: CallOptions): Promise<void> {
    try {
      await withRetry(() => this.registry.hasBlob(repo.name, EMPTY_DIGEST, o), { windowMs: this.opts.retryWindowMs, signal: o.signal, upstreamUnavailable: false });
    } catch (err) {
      if (o.signal?.aborted) throw new UnavailableError('push cancelled by the client', { cause: err });
      if (err instanceof RegistryError && (err.code === 'UNAVAILABLE' || err.network)) throw translatePushError(err);
      if (!(err instanceof RegistryError)) throw translatePushError(err);
    }
  }

  private async pushTag(tagRef: ImageReference, img: ResolvedImage, leaseId: string, ch: ProgressChannel<Progress>, o: CallOptions): Promise<PushedTag> {
    const started = Date.now();
    const cc = this.store.containerd;
    const layers = img.manifest.layers;
    // dockerd walks the layers from the top one down: its lines (and the uploads started first) go in that order.
    const topFirst = layers.map((_, i) => layers.length - 1 - i);
    for (const i of topFirst) ch.push({ id: shortLayerId(img.diffIds[i]), status: 'Preparing' });
    const limiter = new Limiter(this.opts.maxConcurrentUploads);
    const uploads = new Map<number, ReturnType<ImagePusher['pushLayer']>>();
    topFirst.forEach((i, n) => {
      if (n >= this.opts.maxConcurrentUploads) ch.push({ id: shortLayerId(img.diffIds[i]), status: 'Waiting' });
      const u = this.pushLayer(tagRef, layers[i], img.diffIds[i], leaseId, limiter, ch, o);
      u.catch(() => undefined);
      uploads.set(i, u);
    });
    const pushed = await Promise.all(layers.map((_, i) => uploads.get(i)!));
    // The config goes up like a layer, silently.
    const config = img.manifest.config;
    await this.retry(o, async () => {
      if (await this.registry.hasBlob(tagRef.name, config.digest, o)) return;
      const bytes = await readBlob(cc, config.digest, { maxBytes: 16 * 1024 * 1024, timeoutMs: this.opts.contentTimeoutMs });
      await this.registry.uploadBlob(tagRef.name, config.digest, bytes.length, () => oneChunk(bytes), o);
    });

    const unchanged = pushed.every((p, i) => p.digest === layers[i].digest);
    let body: Buffer;
    let mediaType: string;
    if (unchanged) {
      // Same bytes, same digest as where the image came from.
      body = await readBlob(cc, img.manifestDigest, { maxBytes: 4 * 1024 * 1024, timeoutMs: this.opts.contentTimeoutMs });
      mediaType = img.manifest.mediaType ?? (isManifestMediaType(img.target.mediaType ?? '') ? img.target.mediaType! : MediaTypes.OciManifest);
    } else {
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MediaTypes.DockerManifest,
        config: { mediaType: MediaTypes.DockerConfig, size: Number(config.size), digest: config.digest },
        // Same bytes, Docker's name for them (a schema2 manifest lists only Docker media types).
        layers: pushed.map((p) => ({ mediaType: p.mediaType === MediaTypes.OciLayerGzip ? MediaTypes.DockerLayerGzip : p.mediaType, size: p.size, digest: p.digest })),
      };
      // dockerd marshals schema2 manifests with a three-space indent.
      body = Buffer.from(JSON.stringify(manifest, null, 3));
      mediaType = MediaTypes.DockerManifest;
    }
    const digest = sha256(body);
    await this.retry(o, () => this.registry.putManifest(tagRef.name, tagRef.tag!, mediaType, body, o));

    // Keep the manifest as pushed and name it `<repo>@<digest>`: image inspect shows it as a RepoDigest,
    // and its GC references keep compressed layers made for this push.
    const labels: Record<string, string> = { [GC_LABELS.contentConfig]: config.digest };
    pushed.forEach((p, i) => (labels[GC_LABELS.contentLayer(i)] = p.digest));
    await writeBlob(cc, body, labels, { leaseId, timeoutMs: this.opts.contentTimeoutMs });
    await this.store.nameImage([`${tagRef.name}@${digest}`], { mediaType, digest, size: String(body.length) });

    ch.push({ id: '', status: `${tagRef.tag}: digest: ${digest} size: ${body.length}` });
    ch.push({ id: '', status: '', aux: { tag: tagRef.tag!, digest, size: body.length } });
    this.log.info({ ref: tagRef.toString(), digest, layers: layers.length, ms: Date.now() - started }, 'image pushed');
    return { reference: `${tagRef.familiarName}:${tagRef.tag}`, repository: tagRef.familiarName, tag: tagRef.tag!, digest, size: body.length, imageId: img.id };
  }

  /** One layer: exists upstream, mounted, or uploaded. Returns the descriptor the manifest lists. */
  private async pushLayer(
    tagRef: ImageReference,
    layer: Manifest['layers'][number],
    diffId: string,
    leaseId: string,
    limiter: Limiter,
    ch: ProgressChannel<Progress>,
    o: CallOptions,
  ): Promise<{ mediaType: string; digest: string; size: number }> {
    const release = await limiter.acquire();
    const id = shortLayerId(diffId);
    const cc = this.store.containerd;
    try {
      let blob = UNCOMPRESSED_LAYERS.has(layer.mediaType) ? await this.gzipped(layer, diffId, leaseId) : { mediaType: layer.mediaType, digest: layer.digest, size: Number(layer.size) };
      await this.retry(o, async () => {
        if (await this.registry.hasBlob(tagRef.name, blob.digest, o)) {
          ch.push({ id, status: 'Layer already exists' });
          return;
        }
        let info = await contentInfo(cc, blob.digest);
        if (!info) {
          // Pulled as "Already exists" (the layer was unpacked from an imported or loaded image): this
          // blob was never fetched, but the uncompressed one is here; its gzip twin goes up instead.
          const raw = await contentInfo(cc, diffId);
          if (!raw) throw new FailedPreconditionError(`layer ${diffId} cannot be pushed: neither ${blob.digest} nor its uncompressed blob is in the content store`);
          blob = await this.gzipped({ mediaType: MediaTypes.OciLayer, digest: diffId, size: Number(raw.size ?? 0) }, diffId, leaseId);
          if (await this.registry.hasBlob(tagRef.name, blob.digest, o)) {
            ch.push({ id, status: 'Layer already exists' });
            return;
          }
          info = await contentInfo(cc, blob.digest);
        }
        const sources = (info?.labels?.[SOURCE_LABEL(tagRef.domain)] ?? '').split(',').filter((r) => r && r !== tagRef.path);
        for (const from of sources) {
          if (await this.registry.mountBlob(tagRef.name, blob.digest, from, o)) {
            ch.push({ id, status: `Mounted from ${from}` });
            return;
          }
        }
        const body = () => {
          const throttle = new ProgressThrottle();
          let sent = 0;
          return counted(readContent(cc, blob.digest, this.opts.contentTimeoutMs), (n) => {
            sent += n;
            if (throttle.shouldReport(sent, blob.size)) ch.push({ id, status: 'Pushing', current: sent, total: blob.size });
          });
        };
        await this.registry.uploadBlob(tagRef.name, blob.digest, blob.size, body, o);
        ch.push({ id, status: 'Pushed' });
      }, { ch, id });
      // Next pushes to other repositories of this registry can mount it from here.
      const labels = (await contentInfo(cc, blob.digest))?.labels ?? {};
      await setContentLabels(cc, blob.digest, mergeSource(labels, { [SOURCE_LABEL(tagRef.domain)]: tagRef.path }, tagRef.domain));
      return blob;
    } finally {
      release();
    }
  }

  /**
   * The gzip twin of an uncompressed layer blob: the one a previous push made
   * (named by GZIP_LABEL) if it is still there, else compressed now into a new
   * blob under the push's lease.
   */
  private async gzipped(layer: Manifest['layers'][number], diffId: string, leaseId: string): Promise<{ mediaType: string; digest: string; size: number }> {
    const cc = this.store.containerd;
    const info = await contentInfo(cc, layer.digest);
    const known = info?.labels?.[GZIP_LABEL];
    if (known) {
      const gz = await contentInfo(cc, known);
      if (gz) {
        await addLeaseResource(cc, leaseId, { id: known, type: 'content' });
        return { mediaType: MediaTypes.DockerLayerGzip, digest: known, size: Number(gz.size ?? 0) };
      }
    }
    const started = Date.now();
    const w = new ContentWriter(cc, `drydock-gzip-${layer.digest}-${Date.now()}`, { leaseId, timeoutMs: this.opts.contentTimeoutMs });
    const hash = createHash('sha256');
    let size = 0;
    try {
      await w.open();
      const gzip = createGzip({ level: this.opts.gzipLevel });
      const feed = (async () => {
        try {
          for await (const chunk of readContent(cc, layer.digest, this.opts.contentTimeoutMs)) {
            if (!gzip.write(chunk)) await new Promise((r) => gzip.once('drain', r));
          }
          gzip.end();
        } catch (err) {
          gzip.destroy(err as Error);
        }
      })();
      for await (const chunk of gzip as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        await w.write(chunk);
      }
      await feed;
      const digest = 'sha256:' + hash.digest('hex');
      const res = await w.commit(size, digest, { [GC_LABELS.uncompressed]: diffId });
      if (res.existed) await addLeaseResource(cc, leaseId, { id: digest, type: 'content' });
      await setContentLabels(cc, layer.digest, { [GZIP_LABEL]: digest });
      this.log.info({ diffId, digest, from: Number(layer.size), to: size, level: this.opts.gzipLevel, ms: Date.now() - started }, 'layer compressed for push');
      return { mediaType: MediaTypes.DockerLayerGzip, digest, size };
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  /** Retries transient failures; a layer's line shows Docker's countdown. */
  private retry<T>(o: CallOptions, fn: () => Promise<T>, line?: { ch: ProgressChannel<Progress>; id: string }): Promise<T> {
    return withRetry(fn, {
      windowMs: this.opts.retryWindowMs,
      signal: o.signal,
      upstreamUnavailable: true,
      onRetry: (err, attempt) => this.log.warn({ err, attempt, layer: line?.id }, 'push step retried'),
      onWait: line ? (s) => line.ch.push({ id: line.id, status: retryingText(s) }) : undefined,
    });
  }
}

async function* oneChunk(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

async function* counted(src: AsyncIterable<Buffer>, report: (n: number) => void): AsyncIterable<Buffer> {
  for await (const c of src) {
    report(c.length);
    yield c;
  }
}

/** A blob from containerd's content store as a stream. */
export async function* readContent(cc: ContainerdClient, digest: string, timeoutMs: number): AsyncIterable<Buffer> {
  const call = cc.content.read({ digest }, cc.metadata(), { deadline: cc.deadline(timeoutMs) });
  try {
    for await (const res of call as AsyncIterable<ctrContent.ReadContentResponse>) {
      if (res.data && res.data.length) yield Buffer.from(res.data);
    }
  } catch (err) {
    throw fromGrpcError(err);
  } finally {
    call.cancel();
  }
}

