import { checkPlatformSpecifier } from './platform';

describe('checkPlatformSpecifier (containerd platforms.Parse as dockerd 20.10 applies it)', () => {
  it.each(['linux', 'linux/amd64', 'linux/arm64/v8', 'arm64', 'x86_64', 'windows/amd64', 'bogus/amd64', 'linux/bogus'])('accepts %s', (p) => {
    expect(() => checkPlatformSpecifier(p)).not.toThrow();
  });

  // texts recorded from dockerd 20.10 (POST /images/create?platform=...)
  it.each([
    ['bogus', '"bogus": unknown operating system or architecture: invalid argument'],
    ['a/b/c/d', '"a/b/c/d": cannot parse platform specifier: invalid argument'],
    ['lin*ux', '"lin*ux": wildcards not yet supported: invalid argument'],
  ])('refuses %s', (p, message) => {
    expect(() => checkPlatformSpecifier(p)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message }));
  });

  it('names the bad component', () => {
    expect(() => checkPlatformSpecifier('linux/am d64')).toThrow('"am d64" is an invalid component of "linux/am d64": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument');
  });
});
