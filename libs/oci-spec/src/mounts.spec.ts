import { InvalidArgumentError } from '@drydock/errors';
import { cleanPath, mergeTmpfsOptions, parseBind, parseBytes, parseHumanSize, parseTmpfs } from './index';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseBind', () => {
  it('binds with default rw and rprivate', () => {
    expect(parseBind('/src:/dst')).toStrictEqual({
      type: 'bind',
      source: '/src',
      destination: '/dst',
      readOnly: false,
      propagation: 'rprivate',
      mode: '',
    });
  });

  it('binds with ro, labels ignored, propagation, cleaned paths', () => {
    expect(parseBind('/a/../src/:/dst/./x/:ro,Z,rshared')).toStrictEqual({
      type: 'bind',
      source: '/src',
      destination: '/dst/x',
      readOnly: true,
      propagation: 'rshared',
      mode: 'ro,Z,rshared',
    });
    expect(parseBind('/s:/d:rw,z,cached').readOnly).toBe(false);
  });

  it('named and anonymous volumes', () => {
    expect(parseBind('data:/var/lib/data')).toStrictEqual({
      type: 'volume',
      name: 'data',
      destination: '/var/lib/data',
      readOnly: false,
      copyData: true,
      mode: '',
    });
    expect(parseBind('data:/d:ro,nocopy')).toStrictEqual({
      type: 'volume',
      name: 'data',
      destination: '/d',
      readOnly: true,
      copyData: false,
      mode: 'ro,nocopy',
    });
    expect(parseBind('/data')).toStrictEqual({ type: 'volume', destination: '/data', readOnly: false, copyData: true, mode: '' });
    // Docker treats any non-absolute source as a volume name.
    expect(parseBind('./rel:/d')).toMatchObject({ type: 'volume', name: './rel' });
  });

  it.each([
    ['a:b:c:d', "invalid volume specification: 'a:b:c:d'"],
    [':/d', "invalid volume specification: ':/d'"],
    ['/d:rw', "invalid volume specification: '/d:rw'"],
    ['vol:', "invalid volume specification: 'vol:'"],
    ['/s:/d:rx', 'invalid mode: rx'],
    ['/s:/d:ro,rw', 'invalid mode: ro,rw'],
    ['/s:/d:shared,slave', 'invalid mode: shared,slave'],
    [
      '/src:dst',
      `invalid volume specification: '/src:dst': invalid mount config for type "bind": invalid mount path: 'dst' mount path must be absolute`,
    ],
    [
      'vol:dst',
      `invalid volume specification: 'vol:dst': invalid mount config for type "volume": invalid mount path: 'dst' mount path must be absolute`,
    ],
    ['rel', `invalid volume specification: 'rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`],
    [
      '/src:/',
      `invalid volume specification: '/src:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
    ],
    [
      '/s::ro',
      `invalid volume specification: '/s::ro': invalid mount config for type "bind": field Target must not be empty`,
    ],
    [
      '/s:/d:nocopy',
      `invalid volume specification: '/s:/d:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
    ],
    [
      'v:/d:rshared',
      `invalid volume specification: 'v:/d:rshared': invalid mount config for type "volume": field BindOptions must not be specified`,
    ],
  ])('rejects %s', (raw, msg) => {
    expect(message(() => parseBind(raw))).toBe(msg);
  });
});

describe('parseTmpfs', () => {
  it('uses Docker defaults, merged with user options', () => {
    expect(parseTmpfs('/run')).toStrictEqual({ destination: '/run', data: '', options: ['noexec', 'nosuid', 'nodev', 'rprivate'] });
    expect(parseTmpfs('/t:size=64m,mode=1777')).toStrictEqual({
      destination: '/t',
      data: 'size=64m,mode=1777',
      options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=64m', 'mode=1777'],
    });
    expect(parseTmpfs('/t:exec,rw,size=1m,size=2m,shared').options).toStrictEqual([
      'nosuid',
      'nodev',
      'exec',
      'rw',
      'size=2m',
      'shared',
    ]);
  });

  it("rejects bad destinations and options with Docker's texts", () => {
    expect(message(() => parseTmpfs('/'))).toBe("invalid specification: destination can't be '/'");
    expect(message(() => parseTmpfs('rel:size=1m'))).toBe("invalid mount path: 'rel' mount path must be absolute");
    expect(message(() => parseTmpfs('/t:foo=bar'))).toBe('invalid tmpfs option ["foo" "bar"]');
    expect(message(() => parseTmpfs('/t:bogus'))).toBe('invalid tmpfs option ["bogus"]');
  });

  it('mergeTmpfsOptions drops defaults and keeps the last of each family', () => {
    expect(mergeTmpfsOptions(['defaults', 'ro', 'noatime', 'rw', 'atime', 'uid=1', 'uid=2'])).toStrictEqual(['rw', 'atime', 'uid=2']);
  });
});

describe('parseBytes (RAMInBytes)', () => {
  it.each([
    ['64m', 67108864],
    ['64M', 67108864],
    ['64mb', 67108864],
    ['64MiB', 67108864],
    ['1g', 1073741824],
    ['1.5g', 1610612736],
    ['10k', 10240],
    ['32 KB', 32768],
    ['512', 512],
    ['512b', 512],
    ['1t', 1099511627776],
    ['0.5k', 512],
    ['1.7b', 1],
  ])('%s = %d', (s, n) => {
    expect(parseBytes(s)).toBe(n);
  });

  it.each(['', 'm', '-1m', '1x', '1 m b', 'ten', ' 1m', '1e3'])('rejects %j', (s) => {
    expect(message(() => parseBytes(s))).toBe(`invalid size: '${s}'`);
  });

  it('reports a bad number the way Go does', () => {
    expect(message(() => parseBytes('1.2.3m'))).toBe('strconv.ParseFloat: parsing "1.2.3": invalid syntax');
  });

  it('parseHumanSize uses decimal units', () => {
    expect(parseHumanSize('1k')).toBe(1000);
    expect(parseHumanSize('1.5MB')).toBe(1500000);
  });
});

describe('cleanPath', () => {
  it.each([
    ['/a/b/../c/', '/a/c'],
    ['/../x', '/x'],
    ['a/../..', '..'],
    ['', '.'],
    ['//', '/'],
  ])('%s -> %s', (i, o) => expect(cleanPath(i)).toBe(o));
});
