import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract, pack } from 'tar-stream';
import { extractInto } from './tar-extract';
import { tarTree } from './tar-pack';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function names(chunks: Buffer[]): Promise<string[]> {
  const ex = extract();
  const out: string[] = [];
  const done = (async () => {
    for await (const e of ex) {
      out.push(e.header.type === 'symlink' || e.header.type === 'link' ? `${e.header.name} -> ${e.header.linkname}` : e.header.name);
      e.resume();
    }
  })();
  for (const c of chunks) ex.write(c);
  ex.end(undefined as unknown as Buffer);
  await done;
  return out;
}

async function* tarOf(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string }[]): AsyncIterable<Buffer> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.body ?? '');
  p.finalize();
  for await (const c of p as AsyncIterable<Buffer>) yield c;
}

describe('tar pack and extract', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tar-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('packs a tree under its name, links stored not followed, and extracts it back', async () => {
    const src = join(dir, 'src/etc');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'a'), 'A'.repeat(200000));
    linkSync(join(src, 'a'), join(src, 'hard'));
    symlinkSync('/', join(src, 'root'));
    const chunks = await collect(tarTree([{ hostPath: src, name: 'etc' }]));
    expect(await names(chunks)).toEqual(['etc/', 'etc/a', 'etc/hard -> etc/a', 'etc/root -> /']);

    const root = join(dir, 'root');
    mkdirSync(join(root, 'dest'), { recursive: true });
    await extractInto(root, '/dest', (async function* () { yield* chunks; })(), { noOverwriteDirNonDir: true, copyUidGid: false });
    expect(readFileSync(join(root, 'dest/etc/a'), 'utf8')).toHaveLength(200000);
    expect(lstatSync(join(root, 'dest/etc/hard')).ino).toBe(lstatSync(join(root, 'dest/etc/a')).ino);
    expect(readlinkSync(join(root, 'dest/etc/root'))).toBe('/');
  });

  it('refuses entries that climb out of the destination', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'dest'), { recursive: true });
    await expect(extractInto(root, '/dest', tarOf([{ name: '../evil', body: 'x' }]), { noOverwriteDirNonDir: false, copyUidGid: false })).rejects.toThrow('"../evil" is outside of "/dest"');
    expect(existsSync(join(root, 'evil'))).toBe(false);
  });

  it('writes through symlinks inside the container root only', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'dest'), { recursive: true });
    await extractInto(root, '/dest', tarOf([{ name: 'up', type: 'symlink', linkname: '/' }, { name: 'up/etc/x', body: 'in' }]), { noOverwriteDirNonDir: false, copyUidGid: false });
    expect(readFileSync(join(root, 'etc/x'), 'utf8')).toBe('in');
  });

  it('refuses to replace a directory with a file under noOverwriteDirNonDir', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'dest/sub'), { recursive: true });
    await expect(extractInto(root, '/dest', tarOf([{ name: 'sub', body: 'x' }]), { noOverwriteDirNonDir: true, copyUidGid: false })).rejects.toThrow(
      'cannot overwrite directory "/dest/sub" with non-directory "/dest"',
    );
    await extractInto(root, '/dest', tarOf([{ name: 'sub', body: 'x' }]), { noOverwriteDirNonDir: false, copyUidGid: false });
    expect(readFileSync(join(root, 'dest/sub'), 'utf8')).toBe('x');
  });
});
