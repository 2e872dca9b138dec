import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { errorCode } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { PluginClient } from '@drydock/plugins';
import { FakePlugin, tempDir } from '@drydock/plugins/testing';
import { VolumeDriverAdapter } from './volume-driver';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('VolumeDriverAdapter', () => {
  const t = tempDir('adapter');
  const socket = join(t.dir, 'v.sock');
  let plugin: FakePlugin;
  let driver: VolumeDriverAdapter;

  beforeEach(async () => {
    plugin = await new FakePlugin(socket, {}).start();
    const ep = { name: 'vd', socket, implements: ['VolumeDriver'], managed: false };
    driver = new VolumeDriverAdapter(ep, new PluginClient(ep, { connectRetryMs: 0 }), { longMs: 400, shortMs: 200 }, logger);
  });
  afterEach(() => plugin.stop());
  afterAll(() => t.cleanup());

  it('speaks each VolumeDriver call with dockerd request shapes', async () => {
    plugin.answers = {
      'VolumeDriver.Create': { json: { Err: '' } },
      'VolumeDriver.Remove': { json: {} },
      'VolumeDriver.Mount': { json: { Mountpoint: '/mnt/v1' } },
      'VolumeDriver.Unmount': { json: {} },
      'VolumeDriver.Path': { json: { Mountpoint: '/mnt/v1' } },
      'VolumeDriver.Get': { json: { Volume: { Name: 'v1', Mountpoint: '/mnt/v1', Status: { a: 1 } } } },
      'VolumeDriver.List': { json: { Volumes: [{ Name: 'v1', Mountpoint: '/mnt/v1' }, { Name: 'v2' }] } },
    };
    await driver.create('v1', { size: '1G' });
    expect(await driver.mount('v1', 'cid')).toBe('/mnt/v1');
    await driver.unmount('v1', 'cid');
    expect(await driver.path('v1')).toBe('/mnt/v1');
    expect(await driver.get('v1')).toEqual({ name: 'v1', mountpoint: '/mnt/v1', createdAt: undefined, status: { a: 1 } });
    expect((await driver.list()).map((v) => v.name)).toEqual(['v1', 'v2']);
    await driver.remove('v1');
    expect(plugin.calls.map((c) => [c.method, c.body])).toEqual([
      ['VolumeDriver.Create', { Name: 'v1', Opts: { size: '1G' } }],
      ['VolumeDriver.Mount', { Name: 'v1', ID: 'cid' }],
      ['VolumeDriver.Unmount', { Name: 'v1', ID: 'cid' }],
      ['VolumeDriver.Path', { Name: 'v1' }],
      ['VolumeDriver.Get', { Name: 'v1' }],
      ['VolumeDriver.List', {}],
      ['VolumeDriver.Remove', { Name: 'v1' }],
    ]);
  });

  it("gives the plugin's Err as the error text", async () => {
    plugin.answers['VolumeDriver.Create'] = { json: { Err: 'quota exceeded' } };
    await expect(driver.create('v', {})).rejects.toThrow(/^quota exceeded$/);
  });

  it('Get of a volume the plugin does not have is undefined', async () => {
    plugin.answers['VolumeDriver.Get'] = { json: { Err: '' } };
    await expect(driver.get('v')).resolves.toBeUndefined();
  });

  it('uses the long deadline for Create and Mount and the short one for the rest', async () => {
    for (const m of ['Create', 'Mount', 'Unmount', 'List']) plugin.answers[`VolumeDriver.${m}`] = 'hang';
    const timed = async (p: Promise<unknown>) => {
      const t0 = performance.now();
      const err = await p.catch((e: Error) => e);
      expect(errorCode(err)).toBe('DEADLINE_EXCEEDED');
      return performance.now() - t0;
    };
    const [create, mount, unmount, list] = await Promise.all([timed(driver.create('v', {})), timed(driver.mount('v', 'c')), timed(driver.unmount('v', 'c')), timed(driver.list())]);
    expect(create).toBeGreaterThanOrEqual(390);
    expect(mount).toBeGreaterThanOrEqual(390);
    expect(unmount).toBeLessThan(390);
    expect(list).toBeLessThan(390);
  });

  it('refuses garbage: no Mountpoint, not an object, a volume without a name', async () => {
    plugin.answers['VolumeDriver.Mount'] = { json: { Mountpoint: 'relative' } };
    plugin.answers['VolumeDriver.Path'] = { json: [1, 2] };
    plugin.answers['VolumeDriver.List'] = { json: { Volumes: [{ Mountpoint: '/x' }] } };
    await expect(driver.mount('v', 'c')).rejects.toThrow('VolumeDriver.Mount: plugin "vd" answered no absolute Mountpoint');
    await expect(driver.path('v')).rejects.toThrow(/not a JSON object/);
    await expect(driver.list()).rejects.toThrow(/without a Name/);
  });

  it('takes the scope from Capabilities once, and local when the plugin has none', async () => {
    plugin.answers['VolumeDriver.Capabilities'] = { json: { Capabilities: { Scope: 'Global' } } };
    expect(await driver.scope()).toBe('global');
    expect(await driver.scope()).toBe('global');
    expect(plugin.calls.filter((c) => c.method === 'VolumeDriver.Capabilities')).toHaveLength(1);
    const ep = { name: 'old', socket, implements: ['VolumeDriver'], managed: false };
    delete plugin.answers['VolumeDriver.Capabilities'];
    const old = new VolumeDriverAdapter(ep, new PluginClient(ep, { connectRetryMs: 0 }), { longMs: 400, shortMs: 200 }, logger);
    expect(await old.scope()).toBe('local');
  });
});
