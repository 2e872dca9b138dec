import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { InternalError, InvalidArgumentError } from '@drydock/errors';
import { extractInto } from '../../archives/tar-extract';
import { familiarString, parseNormalizedNamed, withDefaultTag, type ImageReference } from '../../images/reference';
import { translatePullError } from '../../images/distribution/registry-errors';
import { withRetry } from '../../images/distribution/retry';
import type { CallOptions, RegistryClient } from '../../images/distribution/registry-client';
import { parsePluginConfig, PLUGIN_CONFIG_MEDIA_TYPE, type PluginConfig } from './plugin-config';

const MANIFEST_TYPES = new Set(['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json']);
const LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.oci.image.layer.v1.tar',
]);

export type PluginSource = Pick<RegistryClient, 'getManifest' | 'getBlobBytes' | 'getBlob'>;

export interface ResolvedPlugin {
  ref: ImageReference;
  /** `name:tag` as dockerd names it (familiar, tag defaulted). */
  name: string;
  config: PluginConfig;
  layers: { digest: string; mediaType: string; size: number }[];
}

interface Manifest {
  mediaType?: string;
  config?: { mediaType?: string; digest?: string };
  layers?: { mediaType?: string; digest?: string; size?: number }[];
}

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
      return { ref, name, config, layers };
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      throw translatePullError(err, ref);
    }
  }

  /** Unpacks the layers, in order, into `rootfs` (which the caller discards on failure). */
  async unpack(p: ResolvedPlugin, rootfs: string, o: CallOptions): Promise<void> {
    try {
      for (const l of p.layers) {
        const blob = await this.registry.getBlob(p.ref.name, l.digest, 0, o);
        const hash = createHash('sha256');
        const verified = (async function* () {
          for await (const chunk of blob.body) {
            hash.update(chunk);
            yield chunk;
          }
          const got = `sha256:${hash.digest('hex')}`;
          if (got !== l.digest) throw new InternalError(`layer verification failed for digest ${l.digest}`);
        })();
        const tar = l.mediaType.endsWith('gzip') ? gunzip(verified) : verified;
        await extractInto(rootfs, '/', tar, { noOverwriteDirNonDir: false, copyUidGid: true });
      }
    } catch (err) {
      if (err instanceof InvalidArgumentError || err instanceof InternalError) throw err;
      throw translatePullError(err, p.ref);
    }
  }
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
