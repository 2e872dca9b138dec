import { isRemoteName, parseRemoteName } from './remote-name';

describe('remote repository names', () => {
  it('takes a first component with "." or ":" or "localhost" as the registry host', () => {
    expect(parseRemoteName('127.0.0.1:5000/team/app')).toEqual({ host: '127.0.0.1:5000', repo: 'team/app', key: '127.0.0.1:5000/team/app' });
    expect(parseRemoteName('localhost/app')).toMatchObject({ host: 'localhost', repo: 'app' });
    expect(parseRemoteName('ghcr.io/org/tool')).toMatchObject({ host: 'ghcr.io', repo: 'org/tool' });
    expect(parseRemoteName('[::1]:5000/app')).toMatchObject({ host: '[::1]:5000', repo: 'app' });
    expect(isRemoteName('team/app')).toBe(false);
    expect(isRemoteName('app')).toBe(false);
    expect(parseRemoteName('library/busybox')).toBeUndefined();
  });

  it('completes Docker Hub official images and rejects bad names', () => {
    expect(parseRemoteName('docker.io/busybox')).toMatchObject({ host: 'docker.io', repo: 'library/busybox', key: 'docker.io/library/busybox' });
    expect(() => parseRemoteName('reg.example/Upper')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => parseRemoteName('bad_host.example:x/app')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
  });
});
