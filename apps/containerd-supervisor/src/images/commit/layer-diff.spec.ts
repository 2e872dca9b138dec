import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { upperDiffTar } from './layer-diff';

async function entries(chunks: AsyncIterable<Buffer>): Promise<{ name: string; type: string; size: number; mode: number }[]> {
  const ex = extract();
  const out: { name: string; type: string; size: number; mode: number }[] = [];
  const done = (async () => {
    for await (const e of ex) {
      out.push({ name: e.header.name, type: e.header.type ?? '', size: e.header.size ?? 0, mode: e.header.mode ?? 0 });
      e.resume(); // drain
    }
  })();
  for await (const c of chunks) ex.write(c);
  ex.end(undefined as unknown as Buffer);
  await done;
  return out;
}

describe('upperDiffTar', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'upper-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes files in lexical order, turns whiteouts into .wh. files and skips empty runtime mount points', async () => {
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/hosts'), ''); // runc's bind-mount target: not part of the layer
    writeFileSync(join(dir, 'etc/app.conf'), 'x=1\n');
    mkdirSync(join(dir, 'proc'));
    mkdirSync(join(dir, 'bin'));
    execFileSync('mknod', [join(dir, 'bin/cat'), 'c', '0', '0']);
    symlinkSync('busybox', join(dir, 'bin/zz'));
    const stats = { entries: 0 };
    const got = await entries(
      upperDiffTar({ upper: dir, hidden: new Set(['/proc', '/etc/hosts']), lowerIsDir: () => false, xattr: async () => undefined }, stats),
    );
    expect(got.map((e) => `${e.type} ${e.name}`)).toEqual(['directory bin/', 'file bin/.wh.cat', 'symlink bin/zz', 'directory etc/', 'file etc/app.conf']);
    expect(got[1]).toMatchObject({ size: 0 });
    expect(stats.entries).toBe(5);
  });

  it('keeps a hidden path that has content and marks opaque directories', async () => {
    mkdirSync(join(dir, 'proc'));
    writeFileSync(join(dir, 'proc/x'), 'y');
    mkdirSync(join(dir, 'data'));
    const got = await entries(
      upperDiffTar({ upper: dir, hidden: new Set(['/proc']), lowerIsDir: (p) => p === '/data', xattr: async (p) => (p.endsWith('/data') ? 'y' : undefined) }),
    );
    expect(got.map((e) => e.name)).toEqual(['data/', 'data/.wh..wh..opq', 'proc/', 'proc/x']);
  });

  it('an empty upper dir is an empty tar (Docker\'s empty layer)', async () => {
    const stats = { entries: 0 };
    const bytes: Buffer[] = [];
    for await (const c of upperDiffTar({ upper: dir, hidden: new Set(), lowerIsDir: () => false, xattr: async () => undefined }, stats)) bytes.push(c);
    expect(stats.entries).toBe(0);
    expect(Buffer.concat(bytes).every((b) => b === 0)).toBe(true);
  });
});
