import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import { waitFor } from '@drydock/infra';
import { buildVolumePlugin, buildVolumePluginImage, pushPluginImage, startTestInfra, volumePluginConfig, type TestInfra } from '@drydock/testing';
import { ContainerdClient } from '../src/containerd/containerd-client';
import { RegistryClient } from '../src/images/distribution/registry-client';
import { PluginFetcher } from '../src/plugins/managed/plugin-fetch';
import { ManagedPluginDirectory } from '../src/plugins/managed/managed-plugin-directory';
import { PluginManager } from '../src/plugins/managed/plugin-manager';
import { PluginRuntime } from '../src/plugins/managed/plugin-runtime';
import { PluginStore } from '../src/plugins/managed/plugin-store';
import { CompositePluginDirectory } from '@drydock/plugins';
import { VolumeDrivers } from '../src/plugins/volume-drivers';
import { PluginVolumeRecords } from '../src/volumes/plugin-volume-records';
import { VolumeService } from '../src/volumes/volume-service';
import { VolumeStore } from '../src/volumes/volume-store';
import { DockerSpecBuilder } from '../src/wiring/spec-builder';

/**
 * Managed plugins against a real containerd, runc and docker-registry: the test volume plugin
 * packaged as a plugin image (config.json + rootfs with the static binary), pushed, installed,
 * run as a container in its own namespace, used for volumes, killed, adopted.
 */
const NS = 'drydock-plugins-pmgr';
/** A cgroup parent of this spec's own, removed at the end. */
const CGROUP_PARENT = '/drydock-pmgr-test';
let infra: TestInfra;
let cc: ContainerdClient;
let registry: RegistryClient;
let host: string;
const logger = createLogger({ service: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function managerOf(stateDir: string): { mgr: PluginManager; volumes: VolumeService; store: PluginStore } {
  const store = new PluginStore(join(stateDir, 'plugins'), logger);
  const runtime = new PluginRuntime(cc, new DockerSpecBuilder({ hostCpus: 2, cgroupParent: CGROUP_PARENT }), { runDir: join(infra.dir, 'prun'), dialFirstMs: 100, dialRetryMs: 300, dialRetries: 3, stopGraceMs: 2000, cgroupParent: CGROUP_PARENT }, logger);
  const mgr = new PluginManager(store, new PluginFetcher(registry, { retryWindowMs: 2000 }), runtime, { restartBackoffMs: 100 }, logger);
  const drivers = new VolumeDrivers(new CompositePluginDirectory([new ManagedPluginDirectory(mgr, { rootfs: (id) => store.rootfs(id), propagatedMount: (id) => store.propagatedMount(id), socketPath: (r) => runtime.socketPath(r) })]), { longMs: 5000, shortMs: 5000 }, 1000, logger);
  const volumes = new VolumeService(new VolumeStore(join(stateDir, 'volumes'), logger), new PluginVolumeRecords(join(stateDir, 'plugin-volumes')), drivers, { listBudgetMs: 2000 }, logger);
  mgr.setVolumeUsage(volumes);
  return { mgr, volumes, store };
}

const socketOf = (id: string) => join(infra.dir, 'prun', id.slice(0, 12), 'tp.sock');
const taskPid = async (id: string) => (await cc.unary(cc.tasks, cc.tasks.get, { containerId: id })).process?.pid ?? 0;

describe('managed plugins (real containerd and registry)', () => {
  let mgr: PluginManager;
  let volumes: VolumeService;
  let store: PluginStore;
  let name: string;

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, registry: true, name: 'pmgr' });
    cc = new ContainerdClient({ address: infra.containerd!.address, namespace: NS, callTimeoutMs: 10000 });
    host = infra.registry!.host;
    // straight to the registry: the path without the host, as a plain registry wants it
    registry = new RegistryClient({ baseUrl: infra.registry!.url, idleTimeoutMs: 10000, repositoryPath: (n) => n.replace(/^[^/]+\//, '') });
    const bin = buildVolumePlugin(join(infra.dir, 'bin'));
    await pushPluginImage(infra.registry!.url, 'x/volplugin', 'latest', await buildVolumePluginImage(bin));
    // a plugin whose process never creates the socket its config names
    await pushPluginImage(infra.registry!.url, 'x/nosocket', 'latest', await buildVolumePluginImage(bin, { ...volumePluginConfig('tp.sock'), entrypoint: ['/volume-plugin', '--socket', '/run/docker/plugins/elsewhere.sock', '--dir', '/data'] }));
    await pushPluginImage(infra.registry!.url, 'x/hostile', 'latest', await buildVolumePluginImage(bin, { ...volumePluginConfig(), interface: { types: ['docker.rootkit/1.0'], socket: 'tp.sock' } }));
    // one that asks for a device and a capability: privileges the user must grant, given to it and nothing more
    await pushPluginImage(infra.registry!.url, 'x/withdev', 'latest', await buildVolumePluginImage(bin, { ...volumePluginConfig('wd.sock'), linux: { devices: [{ path: '/dev/fuse' }], capabilities: ['CAP_SYS_ADMIN'] } }));
    // layers over the plugin's: the last one whites out a file and makes a directory opaque
    const upper = [
      [{ name: 'etc/' }, { name: 'etc/keep', body: 'kept' }, { name: 'etc/secret', body: 'gone' }, { name: 'old/' }, { name: 'old/a', body: 'a' }, { name: 'old/sub/' }, { name: 'old/sub/b', body: 'b' }],
      [{ name: 'etc/.wh.secret' }, { name: 'old/.wh..wh..opq' }, { name: 'old/new', body: 'new' }],
    ];
    await pushPluginImage(infra.registry!.url, 'x/layered', 'latest', await buildVolumePluginImage(bin, volumePluginConfig('ly.sock'), upper));
    ({ mgr, volumes, store } = managerOf(join(infra.dir, 'state')));
    await mgr.boot();
    name = `${host}/x/volplugin:latest`;
  }, 180000);

  afterAll(async () => {
    mgr?.close();
    registry?.close();
    cc?.close();
    await infra?.stop();
    // the cgroup parent runc made (empty once the plugins are gone), in every hierarchy
    const rmdir = (d: string) => {
      try {
        rmdirSync(d);
      } catch {
        // not there in this hierarchy
      }
    };
    for (const h of readdirSync('/sys/fs/cgroup')) rmdir(join('/sys/fs/cgroup', h, CGROUP_PARENT));
    rmdir(join('/sys/fs/cgroup', CGROUP_PARENT));
  });

  it('refuses a hostile config and wrong privileges, leaving nothing installed', async () => {
    await expect(mgr.pull(`${host}/x/hostile`, undefined, [], {})).rejects.toThrow('invalid plugin config: unknown interface type "docker.rootkit/1.0"');
    // refused before any progress: the gateway answers these as HTTP errors
    const said: unknown[] = [];
    await expect(mgr.pull(`${host}/x/volplugin`, undefined, [{ Name: 'network', Description: '', Value: ['host'] }], {}, (m) => void said.push(m))).rejects.toThrow('incorrect privileges');
    expect(said).toEqual([]);
    await expect(mgr.pull(`${host}/x/missing`, undefined, [], {})).rejects.toThrow();
    expect(mgr.list()).toEqual([]);
    expect(readdirSync(join(infra.dir, 'state', 'plugins')).filter((f) => f !== '.staging')).toEqual([]);
  });

  it('installs (disabled), enables as a container in its namespace, and serves volumes through it', async () => {
    expect(await mgr.privileges(`${host}/x/volplugin`, {})).toEqual([]);
    const { plugin: r, layers } = await mgr.pull(`${host}/x/volplugin`, undefined, [], {});
    expect(layers).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]);
    expect(r).toMatchObject({ Name: name, Enabled: false, Config: { Interface: { Types: ['docker.volumedriver/1.0'], Socket: 'tp.sock' } }, Settings: { Env: ['DEBUG=0'] } });
    const said: unknown[] = [];
    await expect(mgr.pull(`${host}/x/volplugin`, undefined, [], {}, (m) => void said.push(m))).rejects.toThrow(`plugin ${name} already exists`);
    expect(said).toEqual([]);
    expect(existsSync(join(store.rootfs(r.Id), 'volume-plugin'))).toBe(true);
    // disabled: a volume cannot use it yet (dockerd's text)
    await expect(volumes.create({ name: 'mv0', driver: name, driverOpts: {}, labels: {} })).rejects.toThrow(`plugin ${name} found but disabled`);

    await mgr.enable(name);
    await expect(mgr.enable(name)).rejects.toThrow(`plugin ${name} is already enabled`);
    expect(mgr.list({ enabled: ['true'], capability: ['volumedriver'] }).map((p) => p.Name)).toEqual([name]);
    expect(await taskPid(r.Id)).toBeGreaterThan(0);

    const v = await volumes.create({ name: 'mv1', driver: name, driverOpts: {}, labels: {} });
    // the plugin's path is inside its rootfs; the engine sees it on the host
    expect(v.mountpoint).toBe(join(store.rootfs(r.Id), 'data', 'volumes', 'mv1'));
    expect(existsSync(v.mountpoint)).toBe(true);
    const mp = await volumes.mount('mv1', name, 'c1');
    expect(mp).toBe(v.mountpoint);
    expect(readFileSync(join(store.rootfs(r.Id), 'data', 'calls.log'), 'utf8')).toContain('Mount mv1 c1');
    await volumes.unmount('mv1', name, 'c1');
  });

  it('refuses disable, rm and set while in use or enabled, with dockerd texts', async () => {
    await expect(mgr.disable(name, false)).rejects.toThrow(`plugin ${name} is in use`);
    await expect(mgr.remove(name, false)).rejects.toThrow(`plugin ${name} is in use`);
    await expect(mgr.set(name, ['DEBUG=1'])).rejects.toThrow('cannot set on an active plugin, disable plugin before setting');
  });

  it('restarts a plugin that was killed, and a new manager (supervisor restart) adopts it running', async () => {
    const id = mgr.find(name).Id;
    const pid = await taskPid(id);
    await cc.unary(cc.tasks, cc.tasks.kill, { containerId: id, signal: 9, all: true });
    await waitFor(async () => {
      const now = await taskPid(id).catch(() => 0);
      return now > 0 && now !== pid && existsSync(socketOf(id));
    }, 15000, 'plugin restarted');
    const v = await volumes.get('mv1');
    expect(v.driver).toBe(name);

    // a supervisor restart: the old manager stops watching, a new one boots from the same state
    mgr.close();
    const pidBefore = await taskPid(id);
    ({ mgr, volumes, store } = managerOf(join(infra.dir, 'state')));
    await mgr.boot();
    expect(await taskPid(id)).toBe(pidBefore);
    expect((await volumes.get('mv1')).driver).toBe(name);
    // and the new manager watches it: killed again, it comes back
    await cc.unary(cc.tasks, cc.tasks.kill, { containerId: id, signal: 9, all: true });
    await waitFor(async () => {
      const now = await taskPid(id).catch(() => 0);
      return now > 0 && now !== pidBefore && existsSync(socketOf(id));
    }, 15000, 'plugin restarted by the new manager');
  });

  it('disable -f, set while disabled, enable, rm', async () => {
    await mgr.disable(name, true);
    await expect(mgr.disable(name, true)).rejects.toThrow(`plugin ${name} is already disabled`);
    await expect(mgr.set(name, ['NOPE=1'])).rejects.toThrow('setting "NOPE" not found in the plugin configuration');
    await mgr.set(name, ['DEBUG=1']);
    expect(mgr.find(name).Settings.Env).toEqual(['DEBUG=1']);
    await mgr.enable(name);
    await volumes.remove('mv1', () => []);
    expect(existsSync(join(store.rootfs(mgr.find(name).Id), 'data', 'volumes', 'mv1'))).toBe(false);
    await expect(mgr.remove(name, false)).rejects.toThrow(`plugin ${name} is enabled`);
    await mgr.remove(name, true);
    expect(mgr.list()).toEqual([]);
  });

  it('a plugin asking for a device and a capability gets them once granted, and nothing else', async () => {
    const n = `${host}/x/withdev:latest`;
    const privs = await mgr.privileges(n, {});
    expect(privs).toEqual([
      { Name: 'device', Description: 'host device to access', Value: ['/dev/fuse'] },
      { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_SYS_ADMIN'] },
    ]);
    await expect(mgr.pull(n, undefined, [], {})).rejects.toThrow('incorrect privileges');
    const { plugin: r } = await mgr.pull(n, undefined, privs, {});
    await mgr.enable(n);
    const c = await cc.unary(cc.containers, cc.containers.get, { id: r.Id });
    const spec = JSON.parse(Buffer.from(c.container!.spec!.value!).toString('utf8'));
    expect(spec.linux.devices).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/dev/fuse', type: 'c', major: 10, minor: 229 })]));
    expect(spec.linux.resources.devices).toEqual(expect.arrayContaining([{ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }]));
    expect(spec.process.capabilities.bounding).toContain('CAP_SYS_ADMIN');
    expect(spec.process.capabilities.bounding).not.toContain('CAP_SYS_MODULE');
    // no host namespaces it did not ask for
    expect(spec.linux.namespaces.map((x: { type: string }) => x.type)).toEqual(expect.arrayContaining(['network', 'pid', 'ipc', 'mount']));
    expect(spec.mounts).toEqual(expect.arrayContaining([expect.objectContaining({ destination: '/run/docker/plugins', source: join(infra.dir, 'prun', r.Id.slice(0, 12)) })]));
    await mgr.remove(n, true);
  });

  it("unpacks layers with their whiteouts: the rootfs has neither the deleted entries nor any .wh. file", async () => {
    const lines: string[] = [];
    const { plugin: r, layers, digest } = await mgr.pull(`${host}/x/layered`, undefined, [], {}, (m) => void lines.push(`${m.id}: ${m.status}`));
    expect(layers).toHaveLength(3);
    // dockerd's plugin pull messages, each layer's bytes reported before it is complete, in layer order
    const ids = layers.map((l) => l.slice(7, 19));
    expect(lines.filter((l) => !l.endsWith(': Downloading'))).toEqual([
      `latest: Pulling from ${host}/x/layered`,
      `: Digest: ${digest}`,
      ...ids.map((id) => `${id}: Download complete`),
      `: Status: Downloaded newer image for ${host}/x/layered:latest`,
    ]);
    for (const id of ids) expect(lines.indexOf(`${id}: Downloading`)).toBeLessThan(lines.indexOf(`${id}: Download complete`));
    expect(lines.indexOf(`${ids[0]}: Downloading`)).toBeGreaterThan(1);
    const root = store.rootfs(r.Id);
    expect(readdirSync(root).sort()).toEqual(['data', 'etc', 'old', 'volume-plugin']);
    expect(readdirSync(join(root, 'etc'))).toEqual(['keep']);
    expect(readdirSync(join(root, 'old'))).toEqual(['new']);
    expect(readFileSync(join(root, 'old', 'new'), 'utf8')).toBe('new');
    await mgr.remove(`${host}/x/layered:latest`, false);
  });

  it('a plugin that never creates its socket: enable fails after the retries and it stays disabled', async () => {
    const n = `${host}/x/nosocket:latest`;
    await mgr.pull(`${host}/x/nosocket`, undefined, [], {});
    await expect(mgr.enable(n)).rejects.toThrow(`plugin ${n} did not create its socket tp.sock in time; it was left disabled`);
    expect(mgr.find(n).Enabled).toBe(false);
    await mgr.remove(n, false);
  });
});
