import { parseManifest } from './manifest';
import type { RegistryError } from './errors';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as RegistryError).code;
  }
  return 'none';
};

describe('parseManifest', () => {
  it('lists the config and layers of an image manifest, skipping foreign layers', () => {
    const m = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: d('a'), size: 1 },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('b'), size: 2 },
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('c'), size: 3, urls: ['https://x'] },
      ],
    };
    expect(parseManifest(Buffer.from(JSON.stringify(m)), undefined)).toEqual({ mediaType: m.mediaType, blobs: [d('a'), d('b')], manifests: [] });
  });

  it('takes the media type from the Content-Type, or infers it, when the document has none', () => {
    const index = { schemaVersion: 2, manifests: [{ digest: d('e'), size: 5 }] };
    expect(parseManifest(Buffer.from(JSON.stringify(index)), 'application/vnd.docker.distribution.manifest.list.v2+json')).toEqual({
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      blobs: [],
      manifests: [d('e')],
    });
    expect(parseManifest(Buffer.from(JSON.stringify(index)), undefined).mediaType).toBe('application/vnd.oci.image.index.v1+json');
  });

  it('rejects what is no schema 2 manifest', () => {
    expect(codeOf(() => parseManifest(Buffer.from('{'), undefined))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseManifest(Buffer.from('{"schemaVersion":1}'), undefined))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'x', size: 1 }, layers: [] })), undefined))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain' })), undefined))).toBe('MANIFEST_INVALID');
  });
});
