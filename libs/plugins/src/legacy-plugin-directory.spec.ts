import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, errorCode } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { LegacyPluginDirectory } from './legacy-plugin-directory';
import { CompositePluginDirectory, type PluginDirectory } from './plugin-directory';
import { FakePlugin, tempDir } from './plugin-test-server.testing';

const logger = createLogger({ service: 'test', level: 'silent' });
const activate = (impl: string[]) => ({ 'Plugin.Activate': { json: { Implements: impl } } });

describe('LegacyPluginDirectory', () => {
  const t = tempDir('discovery');
  const sockets = join(t.dir, 'run');
  const etc = join(t.dir, 'etc');
  const lib = join(t.dir, 'lib');
  const plugins: FakePlugin[] = [];
  mkdirSync(sockets);
  mkdirSync(etc);
  mkdirSync(lib);

  const dir = (lookupRetryMs = 0) => new LegacyPluginDirectory({ socketsDir: sockets, specsDirs: [etc, lib], activateTimeoutMs: 500, lookupRetryMs, connectRetryMs: 0 }, logger);
  const start = async (socket: string, answers: ConstructorParameters<typeof FakePlugin>[1]) => {
    const p = await new FakePlugin(socket, answers).start();
    plugins.push(p);
    return p;
  };

  afterAll(async () => {
    for (const p of plugins) await p.stop();
    t.cleanup();
  });

  it('finds NAME.sock and NAME/NAME.sock, activates once and caches', async () => {
    const a = await start(join(sockets, 'alpha.sock'), activate(['VolumeDriver']));
    mkdirSync(join(sockets, 'beta'));
    await start(join(sockets, 'beta', 'beta.sock'), activate(['VolumeDriver', 'authz']));
    const d = dir();
    await expect(d.get('alpha', 'VolumeDriver')).resolves.toMatchObject({ name: 'alpha', socket: join(sockets, 'alpha.sock'), implements: ['VolumeDriver'], managed: false });
    await Promise.all([d.get('alpha', 'VolumeDriver'), d.get('alpha', 'VolumeDriver')]);
    expect(a.calls.filter((c) => c.method === 'Plugin.Activate')).toHaveLength(1);
    await expect(d.get('beta', 'authz')).resolves.toMatchObject({ socket: join(sockets, 'beta', 'beta.sock') });
  });

  it('reads .spec (a URL) and .json ({Addr}) files from each specs directory', async () => {
    await start(join(t.dir, 'gamma-real.sock'), activate(['VolumeDriver']));
    writeFileSync(join(etc, 'gamma.spec'), `unix://${join(t.dir, 'gamma-real.sock')}\n`);
    await start(join(t.dir, 'delta-real.sock'), activate(['VolumeDriver']));
    writeFileSync(join(lib, 'delta.json'), JSON.stringify({ Name: 'delta', Addr: `unix://${join(t.dir, 'delta-real.sock')}` }));
    const d = dir();
    await expect(d.get('gamma', 'VolumeDriver')).resolves.toMatchObject({ socket: join(t.dir, 'gamma-real.sock') });
    await expect(d.get('delta', 'VolumeDriver')).resolves.toMatchObject({ socket: join(t.dir, 'delta-real.sock') });
    expect(await d.scan()).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma', 'delta']));
  });

  it('answers dockerd texts for a missing plugin and one that implements something else', async () => {
    const d = dir();
    const missing = (await d.get('nope', 'VolumeDriver').catch((e: Error) => e)) as Error;
    expect(missing.message).toBe('plugin "nope" not found');
    expect(errorCode(missing)).toBe('NOT_FOUND');
    await start(join(sockets, 'authonly.sock'), activate(['authz']));
    await expect(d.get('authonly', 'VolumeDriver')).rejects.toThrow('legacy plugin: Plugin does not implement the requested driver');
  });

  it('retries the lookup of a plugin that appears later (dockerd loadWithRetry)', async () => {
    const d = dir(5000);
    setTimeout(() => void start(join(sockets, 'late.sock'), activate(['VolumeDriver'])), 300);
    await expect(d.get('late', 'VolumeDriver')).resolves.toMatchObject({ name: 'late' });
  });

  it('gives the handshake a deadline and forgets a failed activation', async () => {
    const p = await start(join(sockets, 'stuck.sock'), { 'Plugin.Activate': 'hang' });
    const d = dir();
    const err = await d.get('stuck', 'VolumeDriver').catch((e: Error) => e);
    expect(errorCode(err)).toBe('DEADLINE_EXCEEDED');
    p.answers['Plugin.Activate'] = { json: { Implements: ['VolumeDriver'] } };
    await expect(d.get('stuck', 'VolumeDriver')).resolves.toMatchObject({ name: 'stuck' });
  });

  it('refuses a handshake that is not a manifest', async () => {
    await start(join(sockets, 'garbage.sock'), { 'Plugin.Activate': { raw: 'hello' } });
    await expect(dir().get('garbage', 'VolumeDriver')).rejects.toThrow(/Plugin\.Activate: error reading plugin response/);
  });

  it('all() lists the plugins implementing a capability and leaves out those that fail', async () => {
    const names = (await dir().all('VolumeDriver')).map((p) => p.name).sort();
    expect(names).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma', 'delta', 'late', 'stuck']));
    expect(names).not.toContain('authonly');
    expect(names).not.toContain('garbage');
  });
});

describe('CompositePluginDirectory', () => {
  const ep = (name: string, managed: boolean) => ({ name, socket: `/x/${name}`, implements: ['VolumeDriver'], managed });
  const fixed = (eps: ReturnType<typeof ep>[]): PluginDirectory => ({
    get: async (name) => {
      const e = eps.find((x) => x.name === name);
      if (!e) throw new NotFoundError(`plugin "${name}" not found`);
      return e;
    },
    all: async () => eps,
  });

  it('asks directories in order and merges all(), earlier ones winning a name', async () => {
    const c = new CompositePluginDirectory([fixed([ep('a', true)]), fixed([ep('a', false), ep('b', false)])]);
    await expect(c.get('a', 'VolumeDriver')).resolves.toMatchObject({ managed: true });
    await expect(c.get('b', 'VolumeDriver')).resolves.toMatchObject({ managed: false });
    await expect(c.get('c', 'VolumeDriver')).rejects.toThrow('plugin "c" not found');
    expect((await c.all('VolumeDriver')).map((p) => [p.name, p.managed])).toEqual([['a', true], ['b', false]]);
  });
});
