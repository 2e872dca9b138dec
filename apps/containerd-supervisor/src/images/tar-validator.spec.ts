import { InvalidArgumentError } from '@drydock/errors';
import { checkTarEntry, resolveInRoot, TarValidator } from './tar-validator';
import { chunked, makeTar } from './test-tar';

async function validate(buf: Buffer, chunkSize = 7): Promise<unknown> {
  const v = new TarValidator();
  for await (const c of chunked(buf, chunkSize)) await v.write(c);
  return v.end();
}

describe('resolveInRoot', () => {
  it('cleans paths like Go filepath.Clean under a root', () => {
    expect(resolveInRoot('a/./b//c/')).toEqual(['a', 'b', 'c']);
    expect(resolveInRoot('a/../b')).toEqual(['b']);
    expect(resolveInRoot('/etc/passwd')).toEqual(['etc', 'passwd']);
    expect(resolveInRoot('./')).toEqual([]);
  });
  it('re-roots absolute paths but refuses relative escapes', () => {
    expect(resolveInRoot('/../x')).toEqual(['x']);
    expect(resolveInRoot('../x')).toBeUndefined();
    expect(resolveInRoot('a/../../x')).toBeUndefined();
    expect(resolveInRoot('../x', ['a', 'b'])).toEqual(['a', 'x']);
  });
});

describe('checkTarEntry', () => {
  it('accepts ordinary entries, absolute names and absolute symlinks', () => {
    expect(checkTarEntry({ name: 'bin/sh', type: 'symlink', linkname: 'busybox' })).toBeUndefined();
    expect(checkTarEntry({ name: '/bin/sh', type: 'symlink', linkname: '/bin/busybox' })).toBeUndefined();
    expect(checkTarEntry({ name: 'usr/lib/x', type: 'symlink', linkname: '../../lib/x' })).toBeUndefined();
    expect(checkTarEntry({ name: 'bin/ls', type: 'link', linkname: 'bin/busybox' })).toBeUndefined();
  });
  it('names the entry that escapes', () => {
    expect(checkTarEntry({ name: '../x', type: 'file' })).toBe('invalid tar: entry "../x" escapes the root');
    expect(checkTarEntry({ name: 'a', type: 'link', linkname: '../../etc/shadow' })).toBe('invalid tar: hardlink "a" -> "../../etc/shadow" escapes the root');
    expect(checkTarEntry({ name: 'usr/x', type: 'symlink', linkname: '../../../x' })).toBe('invalid tar: symlink "usr/x" -> "../../../x" escapes the root');
  });
});

describe('TarValidator', () => {
  it('passes a valid tar fed in odd-sized chunks and counts file bytes', async () => {
    const tar = await makeTar([
      { name: 'bin', type: 'directory' },
      { name: 'bin/busybox', content: Buffer.alloc(1000, 1) },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'etc/hostname', content: 'x\n' },
      { name: 'a/' + 'very-long-name-'.repeat(20), content: 'pax' },
    ]);
    expect(await validate(tar)).toEqual({ entries: 5, fileBytes: 1005 });
    expect(await validate(tar, 64 * 1024)).toEqual({ entries: 5, fileBytes: 1005 });
  });

  it('accepts an empty input like Go archive/tar does (an empty layer)', async () => {
    expect(await validate(Buffer.alloc(0))).toEqual({ entries: 0, fileBytes: 0 });
  });

  it('rejects a ../ entry with the entry name', async () => {
    const tar = await makeTar([{ name: 'ok', content: 'x' }, { name: '../evil', content: 'boom' }]);
    await expect(validate(tar)).rejects.toThrow(new InvalidArgumentError('invalid tar: entry "../evil" escapes the root'));
  });

  it('rejects an escaping hardlink', async () => {
    const tar = await makeTar([{ name: 'x', type: 'link', linkname: '../../etc/passwd' }]);
    await expect(validate(tar)).rejects.toThrow('invalid tar: hardlink "x" -> "../../etc/passwd" escapes the root');
  });

  it('rejects data that is not a tar', async () => {
    const junk = Buffer.from('this is certainly not a tar archive\n'.repeat(40));
    const err = await validate(junk).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^invalid tar header/);
  });

  it('rejects a truncated tar', async () => {
    const tar = await makeTar([{ name: 'big', content: Buffer.alloc(5000, 2) }]);
    const err = await validate(tar.subarray(0, 2048)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe('invalid tar: unexpected EOF (the archive is truncated)');
  });

  it('stays failed after the first error', async () => {
    const tar = await makeTar([{ name: '../evil', content: 'x' }, { name: 'later', content: 'y' }]);
    const v = new TarValidator();
    // The parser works asynchronously: the failure shows on this write or a later call, then sticks.
    const first = await v.write(tar).then(() => undefined, (e: Error) => e);
    const second = await v.write(Buffer.alloc(512)).then(() => undefined, (e: Error) => e);
    expect((first ?? second)?.message).toMatch(/escapes the root/);
    await expect(v.end()).rejects.toThrow(/escapes the root/);
    await expect(v.write(Buffer.alloc(512))).rejects.toThrow(/escapes the root/);
  });
});
