import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanContainerPath, resolveInRoot } from './root-path';

describe('resolveInRoot', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rootpath-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0\n');
    mkdirSync(join(root, 'd/e'), { recursive: true });
    symlinkSync('/', join(root, 'toroot'));
    symlinkSync('/etc', join(root, 'abs-etc'));
    symlinkSync('../../../../../etc', join(root, 'd/e/climb'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    symlinkSync('passwd', join(root, 'etc/pw'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('keeps .. at the root', async () => {
    expect(await resolveInRoot(root, '/../../etc/./passwd', false)).toEqual({ containerPath: '/etc/passwd', hostPath: join(root, 'etc/passwd') });
  });

  it('re-roots absolute symlink targets inside the root', async () => {
    expect((await resolveInRoot(root, '/toroot/etc/passwd', false)).hostPath).toBe(join(root, 'etc/passwd'));
    expect((await resolveInRoot(root, '/abs-etc/passwd', false)).containerPath).toBe('/etc/passwd');
    expect((await resolveInRoot(root, '/toroot', true)).hostPath).toBe(`${root}/`);
  });

  it('stops relative targets that climb at the root', async () => {
    expect((await resolveInRoot(root, '/d/e/climb/passwd', false)).hostPath).toBe(join(root, 'etc/passwd'));
  });

  it('does not follow the last component unless asked or given a trailing slash', async () => {
    expect((await resolveInRoot(root, '/etc/pw', false)).containerPath).toBe('/etc/pw');
    expect((await resolveInRoot(root, '/etc/pw', true)).containerPath).toBe('/etc/passwd');
    expect((await resolveInRoot(root, '/abs-etc/', false)).containerPath).toBe('/etc');
    expect((await resolveInRoot(root, '/abs-etc/.', false)).containerPath).toBe('/etc');
  });

  it('keeps missing components lexically', async () => {
    expect((await resolveInRoot(root, '/nope/x/../y', true)).containerPath).toBe('/nope/y');
  });

  it('refuses symlink loops', async () => {
    await expect(resolveInRoot(root, '/loop1/x', false)).rejects.toThrow(/too many levels of symbolic links/);
    // the last component is not followed: the loop itself can be named
    expect((await resolveInRoot(root, '/loop1', false)).containerPath).toBe('/loop1');
  });

  it('cleans container paths like Go path.Clean', () => {
    expect(cleanContainerPath('')).toBe('/');
    expect(cleanContainerPath('a/../../b/./c/')).toBe('/b/c');
  });
});
