import { parseChallenges } from './challenge';

describe('parseChallenges', () => {
  it('reads a bearer challenge with quoted parameters', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('reads basic, several challenges in one value, several values, and escapes', () => {
    expect(parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="http://a/t", service=reg, error="insufficient_scope"'])).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'http://a/t', service: 'reg', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges('Basic realm="a\\"b", Bearer realm="x"')).toEqual([
      { scheme: 'basic', params: { realm: 'a"b' } },
      { scheme: 'bearer', params: { realm: 'x' } },
    ]);
  });

  it('gives nothing for an absent or malformed header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('=x')).toEqual([]);
    expect(parseChallenges('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
  });
});
