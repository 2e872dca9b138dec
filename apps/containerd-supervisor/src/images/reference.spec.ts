import { isDigest, parseStoredName, referenceString, withDefaultTag, parseNormalizedNamed } from './reference';

describe('reference helpers', () => {
  it('adds :latest only when there is neither tag nor digest', () => {
    expect(referenceString(withDefaultTag(parseNormalizedNamed('busybox')))).toBe('docker.io/library/busybox:latest');
    expect(referenceString(withDefaultTag(parseNormalizedNamed('busybox:1')))).toBe('docker.io/library/busybox:1');
    const d = 'sha256:' + 'a'.repeat(64);
    expect(referenceString(withDefaultTag(parseNormalizedNamed(`busybox@${d}`)))).toBe(`docker.io/library/busybox@${d}`);
  });

  it('reads stored names back and ignores anything else', () => {
    expect(parseStoredName('docker.io/library/busybox:latest')?.familiarName).toBe('busybox');
    expect(parseStoredName('localhost:5000/app:1')?.familiarName).toBe('localhost:5000/app');
    expect(parseStoredName('drydock-dangling@sha256:' + 'a'.repeat(64))).toBeUndefined();
    expect(parseStoredName('docker.io/library/busybox')).toBeUndefined();
    expect(parseStoredName('Not A Name')).toBeUndefined();
  });

  it('recognises sha256 digests only', () => {
    expect(isDigest('sha256:' + 'a'.repeat(64))).toBe(true);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isDigest('sha512:' + 'a'.repeat(128))).toBe(false);
  });
});
