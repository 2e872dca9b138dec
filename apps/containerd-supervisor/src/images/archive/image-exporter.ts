import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fromGrpcError, InternalError, isNotFound, NotFoundError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { ctrContent } from '@drydock/proto';
import type { ContainerdClient } from '../../containerd/containerd-client';
import { decompress } from '../compression';
import { contentInfo, readBlob, setContentLabels } from '../content';
import { isDigest, isFullHexId, parseNormalizedNamed, referenceString, type ImageReference } from '../reference';
import { END_OF_ARCHIVE, padding, tarHeader } from './docker-tar';
import type { ArchiveImageStore } from './ports';
import { planSave, type SaveImage } from './save-plan';

/** Committed blobs readable as files (LocalIngest when containerd's content root is local). */
export interface LocalBlobs {
  openBlob(digest: string): Promise<FileHandle | undefined>;
}

const LOCAL_READ_BYTES = 1024 * 1024;

/** Content label caching a compressed layer's uncompressed size (save needs it for the tar header). */
export const UNCOMPRESSED_SIZE_LABEL = 'drydock.io/uncompressed-size';
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** What a save will write, known before the first byte. */
export interface PreparedExport {
  /** Image ids in the archive, in the order saved (dockerd emits a "save" event for each). */
  imageIds: string[];
  /** Per image, its Config.Labels (dockerd copies them into the event). */
  labels: Record<string, string>[];
  /** The archive; iterate once. Stops reading containerd when the consumer stops. */
  chunks: AsyncIterable<Buffer>;
}

interface ImageToSave {
  id: string;
  tags: ImageReference[];
}

/**
 * `docker save`: Docker 20.10's archive of one or more images (see save-plan.ts
 * for the format). Names are resolved, configs read and layer sizes learnt
 * before anything is written, so a bad name or missing content is an error the
 * client sees as an HTTP status; layers then stream from containerd's content
 * store, gzip ones inflated on the fly, never held whole in memory.
 */
export class ImageExporter {
  private readonly log: Logger;
  private readonly cc: ContainerdClient;

  constructor(
    private readonly store: ArchiveImageStore,
    logger: Logger,
    private readonly opts: { timeoutMs: number; localBlobs?: LocalBlobs } = { timeoutMs: 60 * 60 * 1000 },
  ) {
    this.log = logger.child({ component: 'image-exporter' });
    this.cc = store.containerd;
  }

  async prepare(names: string[]): Promise<PreparedExport> {
    const started = Date.now();
    const wanted = await this.resolveNames(names);
    const images: SaveImage[] = [];
    const layers: { digest: string; diffId: string; compressed: boolean }[][] = [];
    const sizes = new Map<string, number>();
    const labels: Record<string, string>[] = [];
    for (const w of wanted) {
      const img = await this.store.resolveImage(w.id);
      const config = await readBlob(this.cc, img.manifest.config.digest, { maxBytes: MAX_CONFIG_BYTES, timeoutMs: 30000 });
      const descs = img.manifest.layers ?? [];
      if (descs.length !== img.diffIds.length) {
        throw new InternalError(`image ${img.id}: ${descs.length} layers in the manifest but ${img.diffIds.length} diff ids in the config`);
      }
      const imgLayers = descs.map((d, i) => ({ digest: d.digest, diffId: img.diffIds[i], compressed: d.digest !== img.diffIds[i] }));
      for (const l of imgLayers) if (!sizes.has(l.diffId)) sizes.set(l.diffId, await this.uncompressedSize(l));
      layers.push(imgLayers);
      labels.push(img.config.config?.Labels ?? {});
      images.push({ id: img.id, config, diffIds: img.diffIds, tags: w.tags.map((t) => ({ familiarName: t.familiarName, tag: t.tag ?? 'latest' })) });
    }
    const plan = planSave(images, (i, l) => sizes.get(layers[i][l].diffId) ?? 0, Math.floor(Date.now() / 1000));
    this.log.info({ images: images.map((i) => i.id), ms: Date.now() - started }, 'image export prepared');

    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      let bytes = 0;
      for (const e of plan.entries) {
        yield tarHeader(e);
        if (e.data) {
          if (e.data.length > 0) yield Buffer.concat([e.data, padding(e.data.length)]);
          continue;
        }
        if (!e.layer) continue;
        const src = layers[e.layer.image][e.layer.layer];
        let n = 0;
        for await (const c of self.layerBytes(src)) {
          n += c.length;
          // the header promised e.size bytes: anything else would corrupt the archive
          if (n > e.size) throw new InternalError(`layer ${src.diffId} is larger than the ${e.size} bytes measured before the save`);
          yield c;
        }
        if (n !== e.size) throw new InternalError(`layer ${src.diffId} ended after ${n} of ${e.size} bytes`);
        bytes += n;
        const pad = padding(n);
        if (pad.length) yield pad;
      }
      yield END_OF_ARCHIVE;
      self.log.info({ images: images.length, layerBytes: bytes, ms: Date.now() - started }, 'images exported');
    }
    return { imageIds: images.map((i) => i.id), labels, chunks: chunks() };
  }

  /**
   * moby's parseNames: a full id (`sha256:<hex>` or 64 hex) saves the image
   * untagged; `repo` alone every tag of the repository (or, without any, an id
   * prefix); `repo:tag` / `repo@digest` that reference. Images keep the order
   * they were first named in; tags are not repeated.
   */
  private async resolveNames(names: string[]): Promise<ImageToSave[]> {
    const rows = await this.store.listImages({});
    const refs: { ref: ImageReference; id: string }[] = [];
    for (const r of rows) {
      for (const s of [...r.repoTags, ...r.repoDigests]) {
        try {
          refs.push({ ref: parseNormalizedNamed(s), id: r.id });
        } catch {
          // a name the store holds but cannot parse back cannot be asked for either
        }
      }
    }
    const out = new Map<string, ImageToSave>();
    const add = (id: string, ref?: ImageReference) => {
      let entry = out.get(id);
      if (!entry) out.set(id, (entry = { id, tags: [] }));
      if (ref?.tag !== undefined && ref.digest === undefined && !entry.tags.some((t) => referenceString(t) === referenceString(ref))) entry.tags.push(ref);
    };
    const byIdPrefix = (name: string) => {
      const prefix = name.startsWith('sha256:') ? name : `sha256:${name}`;
      const matches = /^sha256:[0-9a-f]+$/.test(prefix) ? rows.filter((r) => r.id.startsWith(prefix)) : [];
      // dockerd's digest set refuses an ambiguous prefix too
      if (matches.length !== 1) throw new NotFoundError(`No such image: ${name}`);
      return matches[0].id;
    };
    for (const name of names) {
      if (isFullHexId(name) || isDigest(name)) {
        const id = name.startsWith('sha256:') ? name : `sha256:${name}`;
        if (!rows.some((r) => r.id === id)) throw new NotFoundError(`No such image: ${id}`);
        add(id);
        continue;
      }
      const named = parseNormalizedNamed(name);
      if (named.familiarName === 'sha256') {
        add(byIdPrefix(name));
        continue;
      }
      if (named.tag === undefined && named.digest === undefined) {
        const assocs = refs.filter((r) => r.ref.name === named.name).sort((a, b) => (referenceString(a.ref) < referenceString(b.ref) ? -1 : 1));
        if (assocs.length === 0) add(byIdPrefix(name));
        for (const a of assocs) add(a.id, a.ref);
        continue;
      }
      const full = referenceString(named);
      const hit = refs.find((r) => referenceString(r.ref) === full);
      if (!hit) throw new NotFoundError('reference does not exist');
      add(hit.id, named);
    }
    return [...out.values()];
  }

  /**
   * The tar size of a layer: the blob's for an uncompressed one; for a
   * compressed one a label set by an earlier save, or one inflating pass that
   * also checks the content against its diff id before anything is written.
   */
  private async uncompressedSize(l: { digest: string; diffId: string; compressed: boolean }): Promise<number> {
    const info = await contentInfo(this.cc, l.digest);
    if (!info) throw new NotFoundError(`content digest ${l.digest}: not found`);
    if (!l.compressed) return Number(info.size ?? 0);
    const cached = Number(info.labels?.[UNCOMPRESSED_SIZE_LABEL]);
    if (Number.isSafeInteger(cached) && cached >= 0 && info.labels?.[UNCOMPRESSED_SIZE_LABEL] !== '') return cached;
    const hash = createHash('sha256');
    let size = 0;
    for await (const c of this.layerBytes(l)) {
      hash.update(c);
      size += c.length;
    }
    const digest = 'sha256:' + hash.digest('hex');
    if (digest !== l.diffId) throw new InternalError(`layer ${l.digest} uncompresses to ${digest}, not its diff id ${l.diffId}`);
    try {
      await setContentLabels(this.cc, l.digest, { [UNCOMPRESSED_SIZE_LABEL]: String(size) });
    } catch (err) {
      // only a cache: the next save measures again
      if (!isNotFound(err)) this.log.warn({ err, digest: l.digest }, 'uncompressed size label not set');
    }
    return size;
  }

  /** The uncompressed bytes of a layer blob. */
  private async *layerBytes(l: { digest: string; compressed: boolean }): AsyncGenerator<Buffer> {
    const raw = this.readContent(l.digest);
    if (!l.compressed) {
      yield* raw;
      return;
    }
    const { chunks } = await decompress(raw);
    yield* chunks;
  }

  /** Streams a blob from containerd (its file when local, else Content.Read); returning early stops the read. */
  private async *readContent(digest: string): AsyncGenerator<Buffer> {
    const fh = await this.opts.localBlobs?.openBlob(digest);
    if (fh) {
      try {
        for (;;) {
          const buf = Buffer.allocUnsafe(LOCAL_READ_BYTES);
          const { bytesRead } = await fh.read(buf, 0, LOCAL_READ_BYTES, null);
          if (bytesRead === 0) return;
          yield bytesRead === LOCAL_READ_BYTES ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    }
    const call = this.cc.content.read({ digest }, this.cc.metadata(), { deadline: this.cc.deadline(this.opts.timeoutMs) });
    try {
      for await (const res of call as AsyncIterable<ctrContent.ReadContentResponse>) {
        // already a Buffer of its own (the generated decoder copies): no second copy
        if (res.data && res.data.length > 0) yield res.data;
      }
    } catch (err) {
      throw fromGrpcError(err);
    } finally {
      call.cancel();
    }
  }
}
