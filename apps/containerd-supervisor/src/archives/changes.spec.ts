import { ChangeKind, classifyChanges, comparePaths, lowerLookup, RUNTIME_MOUNTPOINTS, type UpperEntry } from './changes';

const dir = (path: string, extra: Partial<UpperEntry> = {}): UpperEntry => ({ path, type: 'dir', size: 0, mode: 0o040755, ...extra });
const file = (path: string, size = 3): UpperEntry => ({ path, type: 'file', size, mode: 0o100644 });
const wh = (path: string): UpperEntry => ({ path, type: 'whiteout', size: 0, mode: 0o020000 });

describe('classifyChanges', () => {
  // lower layer: /bin/sh, /etc/passwd, /etc/group, /tmp (1777), /home/app/.profile
  const lowerFiles: Record<string, 'dir' | 'other'> = {
    '/bin': 'dir',
    '/bin/sh': 'other',
    '/etc': 'dir',
    '/etc/passwd': 'other',
    '/etc/group': 'other',
    '/tmp': 'dir',
    '/home': 'dir',
    '/home/app': 'dir',
    '/home/app/.profile': 'other',
  };
  const lower = (p: string) => (lowerFiles[p] ? { type: lowerFiles[p], mode: p === '/tmp' ? 0o041777 : lowerFiles[p] === 'dir' ? 0o040755 : 0o100644 } : undefined);
  const letter = (k: ChangeKind) => ['C', 'A', 'D'][k];
  const run = (entries: UpperEntry[], hidden: string[] = []) =>
    classifyChanges(entries, lower, new Set([...RUNTIME_MOUNTPOINTS, ...hidden])).map((c) => `${letter(c.kind)} ${c.path}`);

  it('tells added, modified and deleted apart and lists changed parents as modified', () => {
    expect(
      run([dir('/etc'), file('/etc/passwd'), wh('/etc/group'), dir('/tmp', { mode: 0o041777 }), file('/tmp/new'), dir('/home'), dir('/home/app'), file('/home/app/.profile'), dir('/data'), file('/data/x')]),
    ).toEqual(['A /data', 'A /data/x', 'C /etc', 'D /etc/group', 'C /etc/passwd', 'C /home', 'C /home/app', 'C /home/app/.profile', 'C /tmp', 'A /tmp/new']);
  });

  it('hides runtime mount points that are only mount points, and their parents', () => {
    expect(run([dir('/dev'), dir('/proc'), dir('/sys'), dir('/etc'), file('/etc/hosts', 0), file('/etc/resolv.conf', 0), dir('/vol')], ['/vol'])).toEqual([]);
    // a mount point that got content is a change after all
    expect(run([dir('/vol'), file('/vol/x')], ['/vol'])).toEqual(['A /vol', 'A /vol/x']);
    expect(run([dir('/etc'), file('/etc/hosts', 10)])).toEqual(['C /etc', 'A /etc/hosts']);
  });

  it('reports an opaque directory as deleted (moby) and a mode change as modified', () => {
    expect(run([dir('/home', { opaque: true }), file('/home/x')])).toEqual(['D /home', 'A /home/x']);
    expect(run([dir('/bin', { mode: 0o040700 })])).toEqual(['C /bin']);
  });

  it('orders paths component-wise', () => {
    expect(['/a-b', '/a/b', '/a'].sort(comparePaths)).toEqual(['/a', '/a/b', '/a-b']);
  });

  it('looks layers up top first', () => {
    const stats: Record<string, { isDirectory(): boolean; mode: number }> = { '/l1/x': { isDirectory: () => false, mode: 0o100600 }, '/l2/x': { isDirectory: () => true, mode: 0o040755 } };
    const look = lowerLookup(['/l1', '/l2'], (p) => stats[p]);
    expect(look('/x')).toEqual({ type: 'other', mode: 0o100600 });
    expect(look('/y')).toBeUndefined();
  });
});
