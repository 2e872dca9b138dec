import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { errorCode, NotFoundError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import type { PluginDirectory, PluginEndpoint } from '@drydock/plugins';
import { FakePlugin, tempDir } from '@drydock/plugins/testing';
import { VolumeDrivers } from '../plugins/volume-drivers';
import { PluginVolumeRecords } from './plugin-volume-records';
import { VolumeService } from './volume-service';
import { VolumeStore } from './volume-store';

const logger = createLogger({ service: 'test', level: 'silent' });

/** A plugin keeping volumes in memory, as the VolumeDriver protocol describes them. */
function memoryPlugin(socket: string): FakePlugin {
  const vols = new Map<string, string>();
  return new FakePlugin(socket, {
    'VolumeDriver.Create': (b) => (vols.set(b.Name, `/mnt/${b.Name}`), { json: { Err: '' } }),
    'VolumeDriver.Remove': (b) => (vols.delete(b.Name), { json: {} }),
    'VolumeDriver.Get': (b) => ({ json: vols.has(b.Name) ? { Volume: { Name: b.Name, Mountpoint: vols.get(b.Name) } } : { Err: 'no such volume' } }),
    'VolumeDriver.Path': (b) => ({ json: { Mountpoint: vols.get(b.Name) ?? '' } }),
    'VolumeDriver.List': () => ({ json: { Volumes: [...vols].map(([Name, Mountpoint]) => ({ Name, Mountpoint })) } }),
    'VolumeDriver.Mount': (b) => ({ json: { Mountpoint: vols.get(b.Name) } }),
    'VolumeDriver.Unmount': () => ({ json: {} }),
    'VolumeDriver.Capabilities': { json: { Capabilities: { Scope: 'global' } } },
  });
}

describe('VolumeService', () => {
  const t = tempDir('vsvc');
  const eps = new Map<string, PluginEndpoint>();
  const directory: PluginDirectory = {
    get: async (name) => {
      const ep = eps.get(name);
      if (!ep) throw new NotFoundError(`plugin "${name}" not found`);
      return ep;
    },
    all: async () => [...eps.values()],
  };
  let n = 0;
  let svc: VolumeService;
  const plugins: FakePlugin[] = [];
  const users: Record<string, string[]> = {};
  const usersOf = (name: string) => users[name] ?? [];

  const addPlugin = async (name: string, p = memoryPlugin(join(t.dir, `${name}-${n}.sock`))) => {
    await p.start();
    plugins.push(p);
    eps.set(name, { name, socket: p.socket, implements: ['VolumeDriver'], managed: false });
    return p;
  };

  beforeEach(async () => {
    n++;
    eps.clear();
    const root = join(t.dir, `case${n}`);
    svc = new VolumeService(new VolumeStore(join(root, 'volumes'), logger), new PluginVolumeRecords(join(root, 'records')), new VolumeDrivers(directory, { longMs: 3000, shortMs: 3000 }, 0, logger), { listBudgetMs: 1000 }, logger);
    await addPlugin('mem');
  });
  afterEach(async () => {
    for (const p of plugins.splice(0)) await p.stop();
  });
  afterAll(() => t.cleanup());

  it('creates on the plugin, idempotently, and refuses a name another driver has', async () => {
    const v = await svc.create({ name: 'p1', driver: 'mem', labels: { a: 'b' }, driverOpts: { o: '1' } });
    expect(v).toMatchObject({ name: 'p1', driver: 'mem', mountpoint: '/mnt/p1', scope: 'global', labels: { a: 'b' }, options: { o: '1' } });
    await expect(svc.create({ name: 'p1', driver: 'mem' })).resolves.toMatchObject({ driver: 'mem' });
    // no driver asked: the existing volume, whoever has it
    await expect(svc.create({ name: 'p1' })).resolves.toMatchObject({ driver: 'mem' });
    await expect(svc.create({ name: 'p1', driver: 'local' })).rejects.toThrow("create p1: driver 'mem' already has volume 'p1': volume name must be unique");
    await svc.create({ name: 'l1' });
    const err = (await svc.create({ name: 'l1', driver: 'mem' }).catch((e: Error) => e)) as Error;
    expect(err.message).toBe("create l1: driver 'local' already has volume 'l1': volume name must be unique");
    expect(errorCode(err)).toBe('ALREADY_EXISTS');
    const missing = (await svc.create({ name: 'xv', driver: 'nope' }).catch((e: Error) => e)) as Error;
    expect(missing.message).toBe('create xv: error looking up volume plugin nope: plugin "nope" not found');
    expect(errorCode(missing)).toBe('NOT_FOUND');
    expect(await svc.inUse('mem')).toBe(true);
    expect(await svc.inUse('other')).toBe(false);
  });

  it('lists local and plugin volumes; a plugin that stays silent is a warning and its recorded volumes stay listed', async () => {
    await svc.create({ name: 'l1' });
    await svc.create({ name: 'p1', driver: 'mem' });
    const slow = await addPlugin('slow');
    await svc.create({ name: 's1', driver: 'slow' });
    slow.answers['VolumeDriver.List'] = 'hang';
    const t0 = performance.now();
    const res = await svc.list([], usersOf);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(res.volumes.map((v) => [v.name, v.driver])).toEqual(expect.arrayContaining([['l1', 'local'], ['p1', 'mem'], ['s1', 'slow']]));
    expect(res.volumes).toHaveLength(3);
    expect(res.warnings).toEqual(['list slow: plugin "slow" did not answer within 1 s']);
    const filtered = await svc.list([{ key: 'driver', values: ['mem'] }], usersOf);
    expect(filtered.volumes.map((v) => v.name)).toEqual(['p1']);
    expect(await svc.driverNames()).toEqual(['local', 'mem', 'slow']);
  });

  it('get asks only the volume\'s own driver; local volumes never ask a plugin', async () => {
    const stuck = await addPlugin('stuck');
    stuck.answers = { 'VolumeDriver.List': 'hang', 'VolumeDriver.Get': 'hang' };
    await svc.create({ name: 'l1' });
    await svc.create({ name: 'p1', driver: 'mem' });
    const before = stuck.calls.length;
    await expect(svc.get('l1')).resolves.toMatchObject({ driver: 'local' });
    await expect(svc.get('p1')).resolves.toMatchObject({ driver: 'mem', mountpoint: '/mnt/p1' });
    expect(await svc.driverFor('l1', '', {})).toBe('local');
    expect(await svc.driverFor('new1', '', {})).toBe('local');
    expect(await svc.driverFor('p1', '', {})).toBe('mem');
    expect(stuck.calls.length).toBe(before);
    await expect(svc.get('nothing')).rejects.toThrow('get nothing: no such volume');
  });

  it('remove: refused in use; a failing plugin keeps the volume unless forced', async () => {
    const p = await addPlugin('flaky');
    await svc.create({ name: 'f1', driver: 'flaky' });
    users.f1 = ['c1'];
    await expect(svc.remove('f1', usersOf)).rejects.toThrow('remove f1: volume is in use - [c1]');
    delete users.f1;
    p.answers['VolumeDriver.Remove'] = { json: { Err: 'backend down' } };
    await expect(svc.remove('f1', usersOf)).rejects.toThrow('remove f1: backend down');
    await expect(svc.get('f1')).resolves.toMatchObject({ driver: 'flaky' });
    await svc.remove('f1', usersOf, true);
    // forgotten here (the plugin no longer in use); the plugin itself still has it and says so
    expect(await svc.inUse('flaky')).toBe(false);
    await expect(svc.get('f1')).resolves.toMatchObject({ driver: 'flaky', labels: {} });
    p.answers['VolumeDriver.Get'] = { json: {} };
    await expect(svc.get('f1')).rejects.toThrow('get f1: no such volume');
  });

  it('driverFor creates a missing volume on the asked driver and refuses "local" for a plugin volume', async () => {
    expect(await svc.driverFor('n1', 'mem', { size: '1' })).toBe('mem');
    await expect(svc.get('n1')).resolves.toMatchObject({ driver: 'mem', options: { size: '1' } });
    await expect(svc.driverFor('n1', 'local', {})).rejects.toThrow("driver 'mem' already has volume 'n1'");
  });

  it('mount and unmount carry the container id, and errors say which volume', async () => {
    const p = plugins[plugins.length - 1];
    await svc.create({ name: 'm1', driver: 'mem' });
    expect(await svc.mount('m1', 'mem', 'cid')).toBe('/mnt/m1');
    await svc.unmount('m1', 'mem', 'cid');
    expect(p.calls.filter((c) => /mount$/i.test(c.method)).map((c) => [c.method, c.body])).toEqual([
      ['VolumeDriver.Mount', { Name: 'm1', ID: 'cid' }],
      ['VolumeDriver.Unmount', { Name: 'm1', ID: 'cid' }],
    ]);
    p.answers['VolumeDriver.Mount'] = 'hang';
    await expect(svc.mount('m1', 'mem', 'cid')).rejects.toThrow(/^error while mounting volume 'm1': VolumeDriver\.Mount: context deadline exceeded/);
  });
});
