import { createHash } from 'node:crypto';
import { createLogger } from '@drydock/logging';
import type { ImageStore } from '../image-store';
import { ImagePuller, mergeSource, pickManifest, type PullSource } from './puller';
import { RegistryError } from './registry-errors';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const opts = { maxConcurrentDownloads: 3, maxConcurrentUploads: 5, retryWindowMs: 0, contentTimeoutMs: 1000, gzipLevel: 1 };
const logger = createLogger({ service: 'puller-spec', level: 'silent' });

/** A registry of fixed manifests; blobs are never reached by these cases. */
function source(manifests: Record<string, { body: Buffer; mediaType: string }>): PullSource {
  return {
    getManifest: async (_name, reference) => {
      const m = manifests[reference];
      if (!m) throw RegistryError.fromResponse(404, JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }), 'GET');
      return { ...m, digest: sha(m.body) };
    },
    getBlobBytes: async () => {
      throw new Error('not reached');
    },
    getBlob: async () => {
      throw new Error('not reached');
    },
  };
}

// Resolution fails before anything touches the store: only the default platform is read.
const store = { defaultPlatform: { os: 'linux', architecture: 'amd64' } } as unknown as ImageStore;

async function firstStep(puller: ImagePuller, ref: string, platform?: string) {
  return puller.pull({ ref, platform }, new AbortController().signal).next();
}

describe('ImagePuller resolution (fake registry)', () => {
  it('refuses schema1 manifests with a clear error', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'old', fsLayers: [] }));
    const p = new ImagePuller(store, source({ old: { body, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' } }), logger, opts);
    await expect(firstStep(p, 'h:5000/x:old')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Schema 1 is not supported') });
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const body = Buffer.from('{"schemaVersion":2}');
    const wrong = `sha256:${'1'.repeat(64)}`;
    const p = new ImagePuller(store, source({ [wrong]: { body, mediaType: 'application/vnd.oci.image.manifest.v1+json' } }), logger, opts);
    await expect(firstStep(p, `h:5000/x@${wrong}`)).rejects.toMatchObject({ code: 'INTERNAL', message: `manifest verification failed for digest ${wrong}` });
  });

  it('answers an index without the platform in dockerd words, and an unknown tag with NotFound', async () => {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'2'.repeat(64)}`, size: 1, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
    );
    const p = new ImagePuller(store, source({ v1: { body: index, mediaType: 'application/vnd.oci.image.index.v1+json' } }), logger, opts);
    await expect(firstStep(p, 'h:5000/x:v1', 'linux/arm64/v8')).rejects.toMatchObject({ code: 'INTERNAL', message: 'no matching manifest for linux/arm64/v8 in the manifest list entries' });
    await expect(firstStep(p, 'h:5000/x:v2')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'manifest for h:5000/x:v2 not found: manifest unknown: manifest unknown' });
  });
});

describe('platform pick and source labels', () => {
  const m = (architecture: string, variant?: string, mediaType = 'application/vnd.oci.image.manifest.v1+json') => ({
    mediaType,
    digest: `sha256:${architecture}`,
    size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });
  it('picks the first manifest of the platform; a variant must match only when both name one', () => {
    const index = { schemaVersion: 2 as const, manifests: [m('arm', 'v6'), m('arm', 'v7'), m('amd64'), m('arm64', 'v8')] };
    expect(pickManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(1);
    expect(pickManifest(index, { os: 'linux', architecture: 'arm' })).toBe(0);
    expect(pickManifest(index, { os: 'linux', architecture: 'amd64' })).toBe(2);
    expect(pickManifest(index, { os: 'linux', architecture: 'arm64' })).toBe(3);
    expect(pickManifest(index, { os: 'linux', architecture: 's390x' })).toBe(-1);
    // attestation manifests and nested indexes are not images
    expect(pickManifest({ schemaVersion: 2, manifests: [m('amd64', undefined, 'application/vnd.oci.image.index.v1+json')] }, { os: 'linux', architecture: 'amd64' })).toBe(-1);
  });

  it('keeps the repositories a blob came from, per registry', () => {
    const key = 'containerd.io/distribution.source.h:5000';
    expect(mergeSource({ [key]: 'team/a', other: 'x' }, { [key]: 'team/b' }, 'h:5000')).toEqual({ [key]: 'team/a,team/b' });
    expect(mergeSource({ [key]: 'team/a' }, { [key]: 'team/a' }, 'h:5000')).toEqual({ [key]: 'team/a' });
  });
});
