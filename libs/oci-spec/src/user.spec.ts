import { InvalidArgumentError } from '@drydock/errors';
import { buildProcessEnv, mergeEnv, replaceOrAppendEnvValues, resolveUser } from './index';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'www:x:33:33:www-data:/var/www:/bin/false',
  '  nobody:x:65534:65534:nobody:/home:/bin/false  ',
  '',
  'alice:x:1000:1000::/home/alice:/bin/sh',
].join('\n');

const group = [
  'root:x:0:',
  'daemon:x:1:',
  'wheel:x:10:root',
  'www:x:33:',
  'staff:x:50:alice,www',
  'audio:x:29:alice',
  'users:x:100:',
  'nogroup:x:65534:',
].join('\n');

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('resolveUser', () => {
  it('"" is root with its passwd entry and supplementary groups', () => {
    expect(resolveUser('', passwd, group)).toStrictEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
  });

  it('by name: passwd gid plus the groups listing the name', () => {
    expect(resolveUser('alice', passwd, group)).toStrictEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50, 29], home: '/home/alice' });
    expect(resolveUser('nobody', passwd, group)).toStrictEqual({ uid: 65534, gid: 65534, additionalGids: [65534], home: '/home' });
  });

  it('by uid: the passwd entry when there is one, else gid 0 and no home', () => {
    expect(resolveUser('33', passwd, group)).toStrictEqual({ uid: 33, gid: 33, additionalGids: [33, 50], home: '/var/www' });
    expect(resolveUser('4242', passwd, group)).toStrictEqual({ uid: 4242, gid: 0, additionalGids: [0] });
  });

  it('an explicit group replaces the gid and suppresses supplementary groups', () => {
    expect(resolveUser('alice:users', passwd, group)).toStrictEqual({ uid: 1000, gid: 100, additionalGids: [100], home: '/home/alice' });
    expect(resolveUser('1000:50', passwd, group)).toStrictEqual({ uid: 1000, gid: 50, additionalGids: [50], home: '/home/alice' });
    expect(resolveUser('4242:audio', passwd, group)).toStrictEqual({ uid: 4242, gid: 29, additionalGids: [29] });
    expect(resolveUser('4242:777', passwd, group)).toStrictEqual({ uid: 4242, gid: 777, additionalGids: [777] });
  });

  it('works without passwd/group files for numeric ids', () => {
    expect(resolveUser('', undefined, undefined)).toStrictEqual({ uid: 0, gid: 0, additionalGids: [0] });
    expect(resolveUser('1:2', undefined, '')).toStrictEqual({ uid: 1, gid: 2, additionalGids: [2] });
  });

  it("fails for unknown names with libcontainer's texts", () => {
    expect(message(() => resolveUser('bob', passwd, group))).toBe('unable to find user bob: no matching entries in passwd file');
    expect(message(() => resolveUser('bob', undefined, group))).toBe('unable to find user bob: no matching entries in passwd file');
    expect(message(() => resolveUser('alice:nope', passwd, group))).toBe('unable to find group nope: no matching entries in group file');
    expect(message(() => resolveUser('0:nope', passwd, undefined))).toBe('unable to find group nope: no matching entries in group file');
  });

  it('rejects ids out of range', () => {
    expect(message(() => resolveUser('-1', passwd, group))).toBe('uids and gids must be in range 0-2147483647');
    expect(message(() => resolveUser('0:2147483648', passwd, group))).toBe('uids and gids must be in range 0-2147483647');
  });

  it('appends --group-add groups by name or number, deduplicated', () => {
    expect(resolveUser('alice', passwd, group, ['wheel', '4000', '10'])).toStrictEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 50, 29, 10, 4000],
      home: '/home/alice',
    });
    expect(message(() => resolveUser('alice', passwd, group, ['nope']))).toBe('Unable to find group nope');
  });
});

describe('buildProcessEnv', () => {
  it('puts PATH and HOSTNAME first, then container env, then image env not overridden', () => {
    const env = buildProcessEnv(['PATH=/img/bin', 'FOO=1', 'BAR=2'], ['BAR=3', 'BAZ=4'], { hostname: 'h' });
    expect(env).toStrictEqual(['PATH=/img/bin', 'HOSTNAME=h', 'BAR=3', 'BAZ=4', 'FOO=1']);
  });

  it('uses the default PATH and TERM=xterm with a tty', () => {
    expect(buildProcessEnv([], [], { hostname: 'abc', tty: true })).toStrictEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=abc',
      'TERM=xterm',
    ]);
  });

  it('lets the container override HOSTNAME and TERM in place, and unset defaults with a bare name', () => {
    expect(buildProcessEnv(null, ['TERM=dumb', 'HOSTNAME=x'], { hostname: 'h', tty: true })).toStrictEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=x',
      'TERM=dumb',
    ]);
    // `-e TERM` with TERM unset on the client removes it; `-e FOO` removes the image's FOO.
    expect(buildProcessEnv(['FOO=1'], ['TERM', 'FOO'], { hostname: 'h', tty: true })).toStrictEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=h',
    ]);
  });

  it('appends HOME only when nobody set it', () => {
    expect(buildProcessEnv(['A=1'], [], { hostname: 'h', home: '/root' }).at(-1)).toBe('HOME=/root');
    expect(buildProcessEnv(['HOME=/x'], [], { hostname: 'h', home: '/root' })).toStrictEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=h',
      'HOME=/x',
    ]);
  });

  it('keeps values containing = intact', () => {
    expect(buildProcessEnv(['OPTS=a=b=c'], [], { hostname: 'h' })[2]).toBe('OPTS=a=b=c');
  });
});

describe('env helpers', () => {
  it('mergeEnv is what docker inspect shows', () => {
    expect(mergeEnv(['A=1'], ['PATH=/p', 'A=0'])).toStrictEqual(['A=1', 'PATH=/p']);
    expect(mergeEnv([], ['PATH=/p'])).toStrictEqual(['PATH=/p']);
  });

  it('replaceOrAppendEnvValues does not dedupe appended values (as Docker)', () => {
    expect(replaceOrAppendEnvValues(['A=1'], ['B=1', 'B=2', 'A=2'])).toStrictEqual(['A=2', 'B=1', 'B=2']);
  });
});
