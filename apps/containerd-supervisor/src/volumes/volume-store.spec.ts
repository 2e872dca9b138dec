import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { VolumeStore, volumeFilter } from './volume-store';

describe('VolumeStore', () => {
  let root: string;
  let store: VolumeStore;
  const users: Record<string, string[]> = {};
  const usersOf = (n: string) => users[n] ?? [];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vols-'));
    store = new VolumeStore(root, pino({ level: 'silent' }));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates idempotently with metadata beside _data', async () => {
    const a = await store.create({ name: 'data1', labels: { k: 'v' } });
    expect(a.created).toBe(true);
    expect(a.volume).toMatchObject({ name: 'data1', driver: 'local', scope: 'local', mountpoint: join(root, 'data1/_data'), labels: { k: 'v' } });
    const b = await store.create({ name: 'data1', labels: { other: '1' } });
    expect(b.created).toBe(false);
    expect(b.volume.labels).toEqual({ k: 'v' });
    expect(readdirSync(join(root, 'data1')).sort()).toEqual(['_data', 'opts.json']);
    expect((await store.create({})).volume.name).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses Docker texts for bad names, unknown volumes and volumes in use', async () => {
    await expect(store.create({ name: 'a' })).rejects.toThrow('create a: "a" includes invalid characters for a local volume name');
    await expect(store.create({ name: 'x/y' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.get('nope')).rejects.toThrow('get nope: no such volume');
    await store.remove('nope', usersOf, true);
    await store.create({ name: 'busy' });
    users.busy = ['c1', 'c2'];
    await expect(store.remove('busy', usersOf)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: 'remove busy: volume is in use - [c1, c2]' });
    delete users.busy;
    await store.remove('busy', usersOf);
    await expect(store.get('busy')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('prunes unused volumes and reports the bytes', async () => {
    await store.create({ name: 'keep' });
    await store.create({ name: 'gone' });
    writeFileSync(join(store.dataPath('gone'), 'f'), 'x'.repeat(1000));
    users.keep = ['c1'];
    const res = await store.prune([], usersOf);
    expect(res).toEqual({ deleted: ['gone'], spaceReclaimed: 1000 });
    expect((await store.list()).map((v) => v.name)).toEqual(['keep']);
    delete users.keep;
  });

  it('filters by name, label, dangling and driver', async () => {
    const v = { name: 'web-data', driver: 'local' as const, mountpoint: '', createdAt: '', labels: { env: 'prod' }, options: {}, scope: 'local' as const };
    const f = (key: string, ...values: string[]) => volumeFilter([{ key, values }], ['name', 'label', 'dangling', 'driver']);
    expect(f('name', 'web')(v, false)).toBe(true);
    expect(f('name', '^data')(v, false)).toBe(false);
    expect(f('label', 'env=prod')(v, false)).toBe(true);
    expect(f('label', 'env=dev')(v, false)).toBe(false);
    expect(f('dangling', 'true')(v, true)).toBe(false);
    expect(f('dangling', 'false')(v, true)).toBe(true);
    expect(f('driver', 'local')(v, false)).toBe(true);
    expect(() => f('bogus', 'x')).toThrow("Invalid filter 'bogus'");
  });
});
