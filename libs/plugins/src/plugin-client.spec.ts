import { performance } from 'node:perf_hooks';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { errorCode } from '@drydock/errors';
import { PLUGIN_MEDIA_TYPE, PluginClient } from './plugin-client';
import { FakePlugin, tempDir } from './plugin-test-server.testing';

describe('PluginClient', () => {
  const t = tempDir('client');
  let plugin: FakePlugin;
  const socket = join(t.dir, 'p.sock');

  beforeEach(async () => {
    plugin = await new FakePlugin(socket, {}).start();
  });
  afterEach(() => plugin.stop());
  afterAll(() => t.cleanup());

  const client = (connectRetryMs = 0) => new PluginClient({ name: 'p', socket }, { connectRetryMs });

  it('POSTs JSON to /Method with dockerd media type and decodes the answer', async () => {
    plugin.answers['VolumeDriver.Get'] = (b) => ({ json: { Volume: { Name: b.Name } } });
    await expect(client().call('VolumeDriver.Get', { Name: 'v' }, 1000)).resolves.toEqual({ Volume: { Name: 'v' } });
    expect(plugin.calls[0].headers['content-type']).toBe(PLUGIN_MEDIA_TYPE);
    expect(plugin.calls[0].headers.accept).toBe(PLUGIN_MEDIA_TYPE);
    expect(plugin.calls[0].body).toEqual({ Name: 'v' });
  });

  it('turns an HTTP error into "Method: Err", else the raw body', async () => {
    plugin.answers['VolumeDriver.Create'] = { status: 500, json: { Err: 'disk full' } };
    plugin.answers['VolumeDriver.Remove'] = { status: 500, raw: 'plain failure' };
    await expect(client().call('VolumeDriver.Create', {}, 1000)).rejects.toThrow(/^VolumeDriver\.Create: disk full$/);
    await expect(client().call('VolumeDriver.Remove', {}, 1000)).rejects.toThrow(/^VolumeDriver\.Remove: plain failure$/);
  });

  it('fails a call that passes its deadline with DEADLINE_EXCEEDED, at the deadline', async () => {
    plugin.answers['VolumeDriver.Mount'] = 'hang';
    const t0 = performance.now();
    const err = (await client().call('VolumeDriver.Mount', {}, 300).catch((e: Error) => e)) as Error;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(errorCode(err)).toBe('DEADLINE_EXCEEDED');
    expect(err.message).toMatch(/VolumeDriver\.Mount: context deadline exceeded: plugin "p" did not answer within 300 ms/);
  });

  it('reports a body that is not JSON', async () => {
    plugin.answers['VolumeDriver.List'] = { raw: '<html>nope' };
    await expect(client().call('VolumeDriver.List', {}, 1000)).rejects.toThrow(/VolumeDriver\.List: error reading plugin response/);
  });

  it('retries a socket that is not there yet, within the retry window', async () => {
    await plugin.stop();
    const late = new FakePlugin(socket, { 'Plugin.Activate': { json: { Implements: ['VolumeDriver'] } } });
    setTimeout(() => void late.start(), 300);
    try {
      await expect(client(5000).call('Plugin.Activate', undefined, 5000)).resolves.toEqual({ Implements: ['VolumeDriver'] });
    } finally {
      await late.stop();
    }
  });

  it('gives up on a missing socket at once without a retry window', async () => {
    await plugin.stop();
    const err = (await client(0).call('Plugin.Activate', undefined, 5000).catch((e: Error) => e)) as Error;
    expect(errorCode(err)).toBe('UNAVAILABLE');
    expect(err.message).toContain(`Plugin.Activate: dial unix ${socket}`);
  });

  it('speaks plain HTTP to a tcp:// address from a spec file', async () => {
    const server = createServer((req, res) => res.end(JSON.stringify({ path: req.url, type: req.headers['content-type'] })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const c = new PluginClient({ name: 'tcp', url: `tcp://127.0.0.1:${port}` }, { connectRetryMs: 0 });
      await expect(c.call('Plugin.Activate', undefined, 1000)).resolves.toEqual({ path: '/Plugin.Activate', type: PLUGIN_MEDIA_TYPE });
    } finally {
      server.close();
    }
  });
});
