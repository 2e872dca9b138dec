import { InvalidArgumentError } from '@drydock/errors';
import { familiarString, isImageIdentifier, normalizeTagged, parseReference, parseStrict, withTag } from './index';

const DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseReference', () => {
  it('normalises Docker Hub official images', () => {
    const r = parseReference('busybox');
    expect({ ...r, toString: undefined }).toStrictEqual({
      domain: 'docker.io',
      path: 'library/busybox',
      name: 'docker.io/library/busybox',
      familiarName: 'busybox',
      toString: undefined,
    });
    expect(r.toString()).toBe('docker.io/library/busybox');
    expect(String(r)).toBe('docker.io/library/busybox');
  });

  it.each([
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, 'busybox:1.36'],
    ['user/app', 'docker.io', 'user/app', undefined, undefined, 'user/app'],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['host:5000/a/b:tag', 'host:5000', 'a/b', 'tag', undefined, 'host:5000/a/b:tag'],
    ['localhost/app', 'localhost', 'app', undefined, undefined, 'localhost/app'],
    ['localhost:5000/app:v1', 'localhost:5000', 'app', 'v1', undefined, 'localhost:5000/app:v1'],
    ['Example.COM/app', 'Example.COM', 'app', undefined, undefined, 'Example.COM/app'],
    [`busybox@${DIGEST}`, 'docker.io', 'library/busybox', undefined, DIGEST, `busybox@${DIGEST}`],
    [`r.io/a/b:t@${DIGEST}`, 'r.io', 'a/b', 't', DIGEST, `r.io/a/b:t@${DIGEST}`],
    ['a__b/c-d--e.f_g:T_1.x-y', 'docker.io', 'a__b/c-d--e.f_g', 'T_1.x-y', undefined, 'a__b/c-d--e.f_g:T_1.x-y'],
  ])('%s', (input, domain, path, tag, digest, familiar) => {
    const r = parseReference(input);
    expect([r.domain, r.path, r.tag, r.digest]).toStrictEqual([domain, path, tag, digest]);
    expect(familiarString(r)).toBe(familiar);
    expect(r.toString()).toBe(`${domain}/${path}${tag ? ':' + tag : ''}${digest ? '@' + digest : ''}`);
  });

  it.each([
    ['Busybox', 'invalid reference format: repository name must be lowercase'],
    ['user/App:tag', 'invalid reference format: repository name must be lowercase'],
    ['busybox:', 'invalid reference format'],
    ['busybox:tag with space', 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['busybox:' + 'x'.repeat(129), 'invalid reference format'],
    ['', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['busybox@sha256:' + 'a'.repeat(32), 'invalid checksum digest length'],
    ['busybox@sha256:' + 'A'.repeat(64), 'invalid checksum digest format'],
    ['busybox@foo:' + 'a'.repeat(32), 'unsupported digest algorithm'],
    ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
    ['r.io/' + 'a'.repeat(251), 'repository name must not be more than 255 characters'],
  ])('rejects %s', (input, msg) => {
    expect(message(() => parseReference(input))).toBe(msg);
  });

  it('stays fast on long invalid input (no catastrophic backtracking)', () => {
    const evil = 'a'.repeat(5000) + '!';
    expect(message(() => parseReference(evil))).toBe('invalid reference format');
    expect(message(() => parseReference('a-'.repeat(3000) + '-'))).toBe('invalid reference format');
  });
});

describe('reference helpers', () => {
  it('normalizeTagged adds :latest only when there is no tag or digest', () => {
    expect(normalizeTagged('busybox').toString()).toBe('docker.io/library/busybox:latest');
    expect(familiarString(normalizeTagged('busybox'))).toBe('busybox:latest');
    expect(normalizeTagged('busybox:1').tag).toBe('1');
    expect(normalizeTagged(`busybox@${DIGEST}`).tag).toBeUndefined();
  });

  it('withTag validates the tag', () => {
    expect(withTag(parseReference('busybox'), 'v2').toString()).toBe('docker.io/library/busybox:v2');
    expect(message(() => withTag(parseReference('busybox'), '-bad'))).toBe('invalid tag format');
  });

  it('parseStrict does not normalise', () => {
    const r = parseStrict('busybox:1');
    expect([r.domain, r.path, r.name, r.toString()]).toStrictEqual(['', 'busybox', 'busybox', 'busybox:1']);
    expect(message(() => parseStrict('Busybox'))).toBe('repository name must be lowercase');
    expect(message(() => parseStrict(''))).toBe('repository name must have at least one component');
  });

  it('recognises image ids', () => {
    expect(isImageIdentifier('a'.repeat(64))).toBe(true);
    expect(isImageIdentifier('a'.repeat(63))).toBe(false);
  });
});
