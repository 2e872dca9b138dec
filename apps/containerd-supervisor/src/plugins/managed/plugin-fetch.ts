import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { createGunzip, createGzip } from 'node:zlib';
import { tarTree } from '../../archives/tar-pack';
import { InternalError, InvalidArgumentError } from '@drydock/errors';
import { extractInto } from '../../archives/tar-extract';
import { familiarString, parseNormalizedNamed, withDefaultTag, type ImageReference } from '../../images/reference';
import { translatePullError, translatePushError } from '../../images/distribution/registry-errors';
import { withRetry } from '../../images/distribution/retry';
import { ProgressThrottle, shortLayerId, type Progress } from '../../images/distribution/progress';
import type { CallOptions, RegistryClient } from '../../images/distribution/registry-client';
import { parsePluginConfig, PLUGIN_CONFIG_MEDIA_TYPE, type PluginConfig } from './plugin-config';

const MANIFEST_TYPES = new Set(['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json']);
const LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.oci.image.layer.v1.tar',
]);

export type PluginSource = Pick<RegistryClient, 'getManifest' | 'getBlobBytes' | 'getBlob' | 'uploadBlob' | 'putManifest'>;

export interface ResolvedPlugin {
  ref: ImageReference;
  /** `name:tag` as dockerd names it (familiar, tag defaulted). */
  name: string;
  config: PluginConfig;
  layers: { digest: string; mediaType: string; size: number }[];
  /** The manifest's digest. */
  digest: string;
}

interface Manifest {
  mediaType?: string;
  config?: { mediaType?: string; digest?: string };
  layers?: { mediaType?: string; digest?: string; size?: number }[];
}

/** Where a pull or push reports dockerd's progress messages as the work goes. */
export type ProgressSink = (p: Progress) => void;
const discard: ProgressSink = () => undefined;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** dockerd's plugin name of a reference: familiar, `:latest` when untagged; digests are refused. */
export function pluginReference(refStr: string): { ref: ImageReference; name: string } {
  let ref: ImageReference;
  try {
    ref = withDefaultTag(parseNormalizedNamed(refStr));
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return { ref, name: familiarString(ref) };
}

/**
 * Pulls a plugin through the registry-proxy (same path and X-Registry-Auth as image pulls): a
 * schema2/OCI manifest whose config is a plugin config, and its rootfs layers unpacked in
 * order into a directory. Nothing is kept in containerd's content store: a plugin's layers are
 * its rootfs and nothing else.
 */
export class PluginFetcher {
  constructor(
    private readonly registry: PluginSource,
    private readonly opts: { retryWindowMs: number },
  ) {}

  async resolve(refStr: string, o: CallOptions): Promise<ResolvedPlugin> {
    const { ref, name } = pluginReference(refStr);
    try {
      const retry = <T>(fn: () => Promise<T>, upstreamUnavailable: boolean) => withRetry(fn, { windowMs: this.opts.retryWindowMs, signal: o.signal, upstreamUnavailable });
      const m = await retry(() => this.registry.getManifest(ref.name, ref.digest ?? ref.tag!, o), false);
      let manifest: Manifest;
      try {
        manifest = JSON.parse(m.body.toString('utf8')) as Manifest;
      } catch {
        throw new InternalError('invalid manifest: not JSON');
      }
      const mediaType = m.mediaType && m.mediaType !== 'application/json' ? m.mediaType : manifest.mediaType ?? '';
      // dockerd's text: an image (or an index) has no plugin config for the fetch to find
      if (!MANIFEST_TYPES.has(mediaType) || manifest.config?.mediaType !== PLUGIN_CONFIG_MEDIA_TYPE || !manifest.config.digest) {
        throw new InvalidArgumentError('fetched plugin image but plugin config is missing');
      }
      const layers = (manifest.layers ?? []).map((l) => {
        if (!l.digest || !l.mediaType || !LAYER_TYPES.has(l.mediaType)) throw new InvalidArgumentError(`unsupported plugin layer media type ${l.mediaType ?? ''}`);
        return { digest: l.digest, mediaType: l.mediaType, size: l.size ?? 0 };
      });
      const configBody = await retry(() => this.registry.getBlobBytes(ref.name, manifest.config!.digest!, o, 1024 * 1024), true);
      if (sha256(configBody) !== manifest.config.digest) throw new InternalError(`plugin config verification failed for digest ${manifest.config.digest}`);
      const config = parsePluginConfig(configBody);
      return { ref, name, config, layers, digest: m.digest ?? sha256(m.body) };
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      throw translatePullError(err, ref);
    }
  }

  /**
   * Unpacks the layers, in order, into `rootfs` (which the caller discards on failure),
   * reporting dockerd's per-layer "Downloading" (throttled as dockerd's 100 ms poll) and
   * "Download complete" once a layer is verified and unpacked.
   */
  async unpack(p: ResolvedPlugin, rootfs: string, o: CallOptions, emit: ProgressSink = discard): Promise<void> {
    try {
      for (const l of p.layers) {
        const id = shortLayerId(l.digest);
        const blob = await this.registry.getBlob(p.ref.name, l.digest, 0, o);
        const hash = createHash('sha256');
        const throttle = new ProgressThrottle(Number.MAX_SAFE_INTEGER, 100);
        const verified = (async function* () {
          let n = 0;
          for await (const chunk of blob.body) {
            hash.update(chunk);
            n += chunk.length;
            if (throttle.shouldReport(n, l.size)) emit({ id, status: 'Downloading', current: n, total: l.size });
            yield chunk;
          }
          const got = `sha256:${hash.digest('hex')}`;
          if (got !== l.digest) throw new InternalError(`layer verification failed for digest ${l.digest}`);
        })();
        const tar = l.mediaType.endsWith('gzip') ? gunzip(verified) : verified;
        await extractInto(rootfs, '/', tar, { noOverwriteDirNonDir: false, copyUidGid: true, layer: true });
        emit({ id, status: 'Download complete' });
      }
    } catch (err) {
      if (err instanceof InvalidArgumentError || err instanceof InternalError) throw err;
      throw translatePullError(err, p.ref);
    }
  }
}

/**
 * Pushes a plugin as dockerd does (plugin/backend_linux.go Push): its rootfs as one gzipped
 * layer, its config as the plugin config blob, a schema2 manifest under the name's tag.
 */
export async function pushPlugin(
  registry: PluginSource,
  name: string,
  config: PluginConfig,
  rootfs: string,
  o: CallOptions & { gzipLevel: number },
  emit: ProgressSink = discard,
): Promise<{ digest: string; size: number }> {
  const { ref } = pluginReference(name);
  // as `docker push` of an image: the full repository name
  emit({ id: '', status: `The push refers to repository [${ref.name}]` });
  const dir = await mkdtemp(join(tmpdir(), 'drydock-plugin-push-'));
  try {
    const layerFile = join(dir, 'layer.tar.gz');
    const diff = createHash('sha256');
    const compressed = createHash('sha256');
    await pipeline(
      tarTree([{ hostPath: rootfs, name: '' }], o.signal),
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          diff.update(c);
          yield c;
        }
      },
      createGzip({ level: o.gzipLevel }),
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          compressed.update(c);
          yield c;
        }
      },
      createWriteStream(layerFile),
    );
    const layerDigest = `sha256:${compressed.digest('hex')}`;
    const layerSize = (await stat(layerFile)).size;
    const cfg = Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [`sha256:${diff.digest('hex')}`] } }));
    const cfgDigest = sha256(cfg);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        // registries only take plugins under the schema2 manifest type (dockerd's buildManifest)
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: PLUGIN_CONFIG_MEDIA_TYPE, size: cfg.length, digest: cfgDigest },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layerSize, digest: layerDigest }],
      }),
    );
    const id = shortLayerId(layerDigest);
    emit({ id, status: 'Preparing' });
    const counted = async function* () {
      const throttle = new ProgressThrottle();
      let n = 0;
      for await (const c of createReadStream(layerFile) as AsyncIterable<Buffer>) {
        n += c.length;
        if (throttle.shouldReport(n, layerSize)) emit({ id, status: 'Pushing', current: n, total: layerSize });
        yield c;
      }
    };
    try {
      await registry.uploadBlob(ref.name, layerDigest, layerSize, counted, o);
      emit({ id, status: 'Pushed' });
      await registry.uploadBlob(ref.name, cfgDigest, cfg.length, async function* () {
        yield cfg;
      }, o);
      await registry.putManifest(ref.name, ref.tag!, 'application/vnd.docker.distribution.manifest.v2+json', manifest, o);
    } catch (err) {
      throw translatePushError(err);
    }
    const digest = sha256(manifest);
    emit({ id: '', status: `${ref.tag}: digest: ${digest} size: ${manifest.length}` });
    emit({ id: '', status: '', aux: { tag: ref.tag!, digest, size: manifest.length } });
    return { digest, size: manifest.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Gunzips a stream when it starts with gzip's magic, else passes it through (dockerd's DecompressStream). */
export async function* maybeGunzip(src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const rest = (async function* () {
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) yield* gunzip(rest);
  else yield* rest;
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const z = createGunzip();
  const feeding = (async () => {
    try {
      for await (const c of src) if (!z.write(c)) await new Promise((r) => z.once('drain', r));
      z.end();
    } catch (err) {
      z.destroy(err as Error);
    }
  })();
  for await (const c of z) yield c as Buffer;
  await feeding;
}
