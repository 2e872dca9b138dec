import { parseRegistryPath } from './paths';

describe('parseRegistryPath', () => {
  it('parses the base, the catalog and tag lists', () => {
    expect(parseRegistryPath('/v2/')).toEqual({ kind: 'base' });
    expect(parseRegistryPath('/v2')).toEqual({ kind: 'base' });
    expect(parseRegistryPath('/v2/_catalog')).toEqual({ kind: 'catalog' });
    expect(parseRegistryPath('/v2/library/busybox/tags/list')).toEqual({ kind: 'tags', name: 'library/busybox' });
  });

  it('takes multi-component names and splits the route from the end', () => {
    expect(parseRegistryPath('/v2/a/b/c/manifests/v1.0')).toEqual({ kind: 'manifest', name: 'a/b/c', reference: 'v1.0' });
    expect(parseRegistryPath(`/v2/team/app/manifests/sha256:${'a'.repeat(64)}`)).toEqual({ kind: 'manifest', name: 'team/app', reference: `sha256:${'a'.repeat(64)}` });
    expect(parseRegistryPath('/v2/x/blobs/sha256:ab')).toEqual({ kind: 'blob', name: 'x', digest: 'sha256:ab' });
    // A repository may itself be called "manifests" or "blobs".
    expect(parseRegistryPath('/v2/manifests/manifests/latest')).toEqual({ kind: 'manifest', name: 'manifests', reference: 'latest' });
    expect(parseRegistryPath('/v2/blobs/blobs/sha256:ab')).toEqual({ kind: 'blob', name: 'blobs', digest: 'sha256:ab' });
  });

  it('tells upload starts from upload sessions', () => {
    expect(parseRegistryPath('/v2/team/app/blobs/uploads/')).toEqual({ kind: 'uploads', name: 'team/app' });
    expect(parseRegistryPath('/v2/team/app/blobs/uploads')).toEqual({ kind: 'uploads', name: 'team/app' });
    expect(parseRegistryPath('/v2/team/app/blobs/uploads/1234-abcd')).toEqual({ kind: 'upload', name: 'team/app', id: '1234-abcd' });
  });

  it('decodes percent-escapes and rejects what is no registry route', () => {
    expect(parseRegistryPath('/v2/team/app/blobs/sha256%3Aab')).toEqual({ kind: 'blob', name: 'team/app', digest: 'sha256:ab' });
    expect(parseRegistryPath('/v1/_ping')).toBeUndefined();
    expect(parseRegistryPath('/v2/team/app')).toBeUndefined();
    expect(parseRegistryPath('/v2/manifests/v1')).toBeUndefined();
    expect(parseRegistryPath('/v2/a/%E0%A4%A')).toBeUndefined();
  });
});
