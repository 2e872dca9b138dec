import { familiarName, hasRegistryHost, hasTagOrDigest, joinReference, parseImagePath } from './image-path';

describe('parseImagePath', () => {
  it('routes on the trailing verb for names with registry ports, paths and tags', () => {
    expect(parseImagePath('GET', '127.0.0.1:5000/team/app:tag/json')).toEqual({ name: '127.0.0.1:5000/team/app:tag', verb: 'json' });
    expect(parseImagePath('GET', 'busybox/json')).toEqual({ name: 'busybox', verb: 'json' });
    expect(parseImagePath('GET', 'busybox:1.36/history')).toEqual({ name: 'busybox:1.36', verb: 'history' });
    expect(parseImagePath('POST', 'busybox/tag')).toEqual({ name: 'busybox', verb: 'tag' });
    expect(parseImagePath('POST', '127.0.0.1:5000/team/app/push')).toEqual({ name: '127.0.0.1:5000/team/app', verb: 'push' });
    expect(parseImagePath('GET', 'busybox@sha256:' + 'a'.repeat(64) + '/json')).toEqual({ name: 'busybox@sha256:' + 'a'.repeat(64), verb: 'json' });
  });

  it('takes an image called like a verb as a name', () => {
    expect(parseImagePath('GET', 'json/json')).toEqual({ name: 'json', verb: 'json' });
    expect(parseImagePath('POST', 'team/tag/tag')).toEqual({ name: 'team/tag', verb: 'tag' });
  });

  it('uses the whole tail as the name for DELETE', () => {
    expect(parseImagePath('DELETE', '127.0.0.1:5000/team/app:X')).toEqual({ name: '127.0.0.1:5000/team/app:X', verb: '' });
    expect(parseImagePath('DELETE', 'busybox/json')).toEqual({ name: 'busybox/json', verb: '' });
    expect(parseImagePath('DELETE', 'sha256:abc')).toEqual({ name: 'sha256:abc', verb: '' });
  });

  it('is a 404 without a name or with an unknown verb', () => {
    for (const [m, t] of [
      ['GET', 'json'],
      ['GET', 'busybox'],
      ['GET', 'busybox/tag'],
      ['POST', 'busybox/json'],
      ['POST', 'busybox'],
      ['DELETE', ''],
    ]) {
      expect(() => parseImagePath(m, t)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    }
  });
});

describe('pull references', () => {
  it('tells registry hosts from Docker Hub names', () => {
    expect(hasRegistryHost('127.0.0.1:5000/team/app')).toBe(true);
    expect(hasRegistryHost('localhost/app')).toBe(true);
    expect(hasRegistryHost('ghcr.io/x/y')).toBe(true);
    expect(hasRegistryHost('docker.io/library/busybox')).toBe(false);
    expect(hasRegistryHost('team/app')).toBe(false);
    expect(hasRegistryHost('busybox')).toBe(false);
  });
  it('gives the familiar name dockerd quotes', () => {
    expect(familiarName('docker.io/library/nosuch:latest')).toBe('nosuch');
    expect(familiarName('nosuch')).toBe('nosuch');
    expect(familiarName('team/app:1')).toBe('team/app');
  });
  it('joins fromImage and tag, digests with @', () => {
    expect(joinReference('busybox', 'latest')).toBe('busybox:latest');
    expect(joinReference('busybox', null)).toBe('busybox');
    expect(joinReference('busybox', 'sha256:' + 'b'.repeat(64))).toBe('busybox@sha256:' + 'b'.repeat(64));
  });
  it('tells a name-only fromImage (pull every tag) from one with a tag or digest', () => {
    expect(hasTagOrDigest('busybox')).toBe(false);
    expect(hasTagOrDigest('127.0.0.1:5000/team/app')).toBe(false);
    expect(hasTagOrDigest('busybox:1')).toBe(true);
    expect(hasTagOrDigest('127.0.0.1:5000/team/app:1')).toBe(true);
    expect(hasTagOrDigest('busybox@sha256:' + 'b'.repeat(64))).toBe(true);
  });
});
