import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRootfsFile, rootfsLayers } from './rootfs-files';

describe('rootfs files', () => {
  it('reads through overlay layers top first', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rootfs-'));
    for (const l of ['up', 'l1', 'l2']) mkdirSync(join(d, l, 'etc'), { recursive: true });
    writeFileSync(join(d, 'l2', 'etc', 'passwd'), 'old');
    writeFileSync(join(d, 'l1', 'etc', 'passwd'), 'new');
    writeFileSync(join(d, 'l2', 'etc', 'group'), 'g');
    const mounts = [{ type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${d}/w`, `upperdir=${d}/up`, `lowerdir=${d}/l1:${d}/l2`] }];
    expect(rootfsLayers(mounts)).toEqual([`${d}/up`, `${d}/l1`, `${d}/l2`]);
    expect(await readRootfsFile(mounts, 'etc/passwd')).toBe('new');
    expect(await readRootfsFile(mounts, 'etc/group')).toBe('g');
    expect(await readRootfsFile(mounts, 'etc/shadow')).toBeUndefined();
    expect(await readRootfsFile([{ type: 'bind', source: `${d}/l2` }], 'etc/passwd')).toBe('old');
  });
});
