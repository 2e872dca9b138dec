import { performance } from 'node:perf_hooks';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { supervisorV1 } from '@drydock/proto';
import { waitFor } from '@drydock/infra';
import { grpcCode, SupervisorHarness } from './support/harness';
import { buildVolumePlugin, TestVolumePlugin } from '@drydock/testing';

type Cb<T> = (err: ServiceError | null, res: T) => void;

/** Short deadlines, so the stuck-plugin tests see them pass (a node has dockerd's 2 min / 1 min). */
const LONG_MS = 3000;
const SHORT_MS = 2000;
const LIST_BUDGET_MS = 1000;

/** Volume plugins found by legacy discovery, against real containerd, runc and a real plugin process. */
const h = new SupervisorHarness();
let plugin: TestVolumePlugin;
let stuck: TestVolumePlugin;

describe('volume plugins (legacy discovery, real containerd)', () => {
  const vol = <Res>(name: keyof supervisorV1.VolumesClient, req: unknown): Promise<Res> =>
    h.call(h.volumes, h.volumes[name] as unknown as (req: unknown, cb: Cb<Res>) => unknown, req);
  const timed = async <T>(p: Promise<T>): Promise<{ ms: number; value?: T; err?: ServiceError }> => {
    const t0 = performance.now();
    try {
      const value = await p;
      return { ms: performance.now() - t0, value };
    } catch (err) {
      return { ms: performance.now() - t0, err: err as ServiceError };
    }
  };

  beforeAll(async () => {
    await h.setup({
      env: (dir) => ({
        DRYDOCK_PLUGIN_SOCKETS_DIR: join(dir, 'plugins-run'),
        DRYDOCK_PLUGIN_SPECS_DIRS: join(dir, 'plugins-etc'),
        DRYDOCK_PLUGIN_LONG_TIMEOUT_MS: String(LONG_MS),
        DRYDOCK_PLUGIN_SHORT_TIMEOUT_MS: String(SHORT_MS),
        DRYDOCK_PLUGIN_RETRY_MS: '500',
        DRYDOCK_VOLUME_LIST_BUDGET_MS: String(LIST_BUDGET_MS),
      }),
    });
    const run = join(h.infra.dir, 'plugins-run');
    mkdirSync(run, { recursive: true });
    mkdirSync(join(h.infra.dir, 'plugins-etc'), { recursive: true });
    const bin = buildVolumePlugin(join(h.infra.dir, 'bin'));
    plugin = await new TestVolumePlugin(bin, join(run, 'tp.sock'), join(h.infra.dir, 'tp')).start();
    stuck = await new TestVolumePlugin(bin, join(run, 'stuckp.sock'), join(h.infra.dir, 'stuckp'), 'global').start();
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await plugin?.stop();
    await stuck?.stop();
    await h.teardown();
  });

  it('creates a volume on the plugin; inspect and ls show its driver, mountpoint, scope and status', async () => {
    const created = await vol<supervisorV1.CreateVolumeResponse>('createVolume', { name: 'pv1', driver: 'tp', driverOpts: { size: '1g' }, labels: { team: 'a' } });
    expect(created.volume).toMatchObject({ name: 'pv1', driver: 'tp', mountpoint: join(plugin.dir, 'volumes', 'pv1'), scope: 'local', labels: { team: 'a' }, options: { size: '1g' } });
    expect(existsSync(join(plugin.dir, 'volumes', 'pv1'))).toBe(true);
    expect(plugin.calls()).toEqual(expect.arrayContaining(['Plugin.Activate', 'Get pv1', 'Create pv1', 'Path pv1']));
    // idempotent for the same driver, refused for another
    await vol('createVolume', { name: 'pv1', driver: 'tp' });
    const conflict = await vol('createVolume', { name: 'pv1', driver: 'local' }).catch((e: ServiceError) => e);
    expect(grpcCode(conflict)).toBe(status.ALREADY_EXISTS);
    expect((conflict as ServiceError).details).toBe("create pv1: driver 'tp' already has volume 'pv1': volume name must be unique");

    const inspected = await vol<supervisorV1.InspectVolumeResponse>('inspectVolume', { name: 'pv1' });
    expect(inspected.volume).toMatchObject({ driver: 'tp', mountpoint: join(plugin.dir, 'volumes', 'pv1'), labels: { team: 'a' } });
    expect(JSON.parse(inspected.volume!.statusJson!)).toEqual({ backend: 'test-plugin' });

    await vol('createVolume', { name: 'localv' });
    await vol('createVolume', { name: 'gv1', driver: 'stuckp' });
    const ls = await vol<supervisorV1.ListVolumesResponse>('listVolumes', {});
    const rows = (ls.volumes ?? []).map((v) => [v.name, v.driver, v.scope]);
    expect(rows).toEqual(expect.arrayContaining([['pv1', 'tp', 'local'], ['localv', 'local', 'local'], ['gv1', 'stuckp', 'global']]));
    expect(ls.warnings).toEqual([]);
    const byDriver = await vol<supervisorV1.ListVolumesResponse>('listVolumes', { filters: [{ key: 'driver', values: ['^tp$'] }] });
    expect((byDriver.volumes ?? []).map((v) => v.name)).toEqual(['pv1']);
    const drivers = await vol<supervisorV1.ListVolumeDriversResponse>('listVolumeDrivers', {});
    expect(drivers.drivers).toEqual(['local', 'stuckp', 'tp']);
  });

  it("answers dockerd's texts for a missing plugin and a plugin's refusal", async () => {
    const missing = await vol('createVolume', { name: 'nv', driver: 'nosuchplugin' }).catch((e: ServiceError) => e);
    expect(grpcCode(missing)).toBe(status.NOT_FOUND);
    expect((missing as ServiceError).details).toBe('create nv: error looking up volume plugin nosuchplugin: plugin "nosuchplugin" not found');
    const refused = await vol('createVolume', { name: 'rv', driver: 'tp', driverOpts: { fail: '1' } }).catch((e: ServiceError) => e);
    expect((refused as ServiceError).details).toBe('create rv: create refused by the test plugin');
    // nothing half-made
    await expect(vol('inspectVolume', { name: 'rv' })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('mounts a plugin volume with the container id at start and unmounts it at exit; the container writes to it', async () => {
    const id = await h.run('echo written-through-plugin > /data/f', { hostConfig: { mounts: [{ type: 'volume', source: 'pv1', target: '/data' }] } });
    expect(await h.wait(id)).toBe(0);
    expect(readFileSync(join(plugin.dir, 'volumes', 'pv1', 'f'), 'utf8')).toBe('written-through-plugin\n');
    await waitFor(async () => plugin.calls().includes(`Unmount pv1 ${id}`), 5000, 'unmount');
    const calls = plugin.calls();
    expect(calls.indexOf(`Mount pv1 ${id}`)).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf(`Mount pv1 ${id}`)).toBeLessThan(calls.indexOf(`Unmount pv1 ${id}`));
    const info = await h.inspect(id);
    expect(info.mounts).toEqual([expect.objectContaining({ type: 'volume', name: 'pv1', driver: 'tp', destination: '/data' })]);

    // in use: dockerd's text; free once the container is gone
    const inUse = await vol('removeVolume', { name: 'pv1' }).catch((e: ServiceError) => e);
    expect((inUse as ServiceError).details).toBe(`remove pv1: volume is in use - [${id}]`);
    // a second start mounts again (restarts take the same path)
    await h.c('startContainer', { id });
    expect(await h.wait(id)).toBe(0);
    await waitFor(async () => plugin.calls().filter((c) => c === `Unmount pv1 ${id}`).length === 2, 5000, 'second unmount');
    await h.c('removeContainer', { id, force: true });
    await vol('removeVolume', { name: 'pv1' });
    expect(plugin.calls()).toContain('Remove pv1');
    expect(existsSync(join(plugin.dir, 'volumes', 'pv1'))).toBe(false);
    // no unmount for a run that was already released
    expect(plugin.calls().filter((c) => c === `Unmount pv1 ${id}`)).toHaveLength(2);
  });

  it('--volume-driver creates a missing volume on the plugin; -v of a plugin volume needs no driver', async () => {
    const id = await h.run('echo one > /v/x', { hostConfig: { volumeDriver: 'tp', mounts: [{ type: 'volume', source: 'pv2', target: '/v' }] } });
    expect(await h.wait(id)).toBe(0);
    expect(plugin.calls()).toContain('Create pv2');
    const id2 = await h.run('cat /v/x', { hostConfig: { mounts: [{ type: 'volume', source: 'pv2', target: '/v' }] } });
    expect(await h.wait(id2)).toBe(0);
    expect((await h.logs(id2)).stdout).toBe('one\n');
    expect(plugin.calls()).toContain(`Mount pv2 ${id2}`);
    await h.c('removeContainer', { id, force: true });
    await h.c('removeContainer', { id: id2, force: true });
  });

  it('a start that fails after the Mount unmounts again', async () => {
    await vol('createVolume', { name: 'pv3', driver: 'tp' });
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['/no/such/binary'] } }, hostConfig: { mounts: [{ type: 'volume', source: 'pv3', target: '/v' }] } });
    await expect(h.c('startContainer', { id: res.id })).rejects.toMatchObject({ details: expect.stringMatching(/no such file or directory|not found/) });
    const calls = plugin.calls();
    expect(calls).toContain(`Mount pv3 ${res.id}`);
    expect(calls).toContain(`Unmount pv3 ${res.id}`);
    await h.c('removeContainer', { id: res.id, force: true });
    expect(plugin.calls().filter((c) => c === `Unmount pv3 ${res.id}`)).toHaveLength(1);
  });

  it('a run that ends while the supervisor is down is unmounted when it is back', async () => {
    const id = await h.run('sleep 2', { hostConfig: { mounts: [{ type: 'volume', source: 'pv3', target: '/v' }] } });
    expect(plugin.calls()).toContain(`Mount pv3 ${id}`);
    await h.kill();
    await new Promise((r) => setTimeout(r, 2500));
    expect(plugin.calls()).not.toContain(`Unmount pv3 ${id}`);
    await h.startSupervisor();
    await waitFor(async () => plugin.calls().includes(`Unmount pv3 ${id}`), 10000, 'unmount after restart');
    await h.c('removeContainer', { id, force: true });
  });

  it('prune removes unused plugin volumes and keeps used ones', async () => {
    await vol('createVolume', { name: 'pr1', driver: 'tp', labels: { prune: 'yes' } });
    await vol('createVolume', { name: 'pr2', driver: 'tp', labels: { prune: 'yes' } });
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['true'] } }, hostConfig: { mounts: [{ type: 'volume', source: 'pr2', target: '/v' }] } });
    const pruned = await vol<supervisorV1.PruneVolumesResponse>('pruneVolumes', { filters: [{ key: 'label', values: ['prune=yes'] }] });
    expect(pruned.deleted).toEqual(['pr1']);
    expect(plugin.calls()).toContain('Remove pr1');
    await h.c('removeContainer', { id: res.id, force: true });
    await vol('removeVolume', { name: 'pr2' });
  });

  it('a stuck plugin blocks only the calls that need it, and those fail at its deadline', async () => {
    // a container that mounts a volume of the plugin, created while it answers
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['true'] } }, hostConfig: { mounts: [{ type: 'volume', source: 'gv1', target: '/g' }] } });
    const other = await h.run('sleep 30');
    // stuck after its handshake (the supervisor restarted above, so Activate is asked again)
    stuck.hang('Create', 'Remove', 'Mount', 'Unmount', 'Path', 'Get', 'List', 'Capabilities');
    try {

    const start = timed(h.c('startContainer', { id: res.id }));
    const ls = timed(vol<supervisorV1.ListVolumesResponse>('listVolumes', {}));
    await new Promise((r) => setTimeout(r, 200));
    // while the Mount hangs: ps, inspect, and run of a container without the plugin answer at once
    const ps = await timed(h.c('listContainers', { all: true }));
    expect(ps.err).toBeUndefined();
    expect(ps.ms).toBeLessThan(1000);
    const insp = await timed(h.inspect(res.id));
    expect(insp.ms).toBeLessThan(1000);
    const insp2 = await timed(h.inspect(other));
    expect(insp2.ms).toBeLessThan(1000);
    const t0 = performance.now();
    const quick = await h.run('echo quick');
    expect(await h.wait(quick)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);
    const localInspect = await timed(vol('inspectVolume', { name: 'localv' }));
    expect(localInspect.err).toBeUndefined();
    expect(localInspect.ms).toBeLessThan(1000);

    // volume ls: local volumes and the stuck plugin's recorded ones, with a warning, within the budget
    const listed = await ls;
    expect(listed.err).toBeUndefined();
    expect(listed.ms).toBeLessThan(LIST_BUDGET_MS + 1000);
    expect((listed.value!.volumes ?? []).map((v) => [v.name, v.driver])).toEqual(expect.arrayContaining([['localv', 'local'], ['gv1', 'stuckp'], ['pv2', 'tp']]));
    expect(listed.value!.warnings).toEqual(['list stuckp: plugin "stuckp" did not answer within 1 s']);

    // the start that needs it fails at the Mount deadline, with a clear error, and leaves no task
    const started = await start;
    expect(started.ms).toBeGreaterThanOrEqual(LONG_MS - 100);
    expect(started.ms).toBeLessThan(LONG_MS + 2000);
    expect(started.err?.details).toMatch(/^error while mounting volume 'gv1': VolumeDriver\.Mount: context deadline exceeded: plugin "stuckp" did not answer within 3 s$/);
    expect((await h.inspect(res.id)).state?.running).toBeFalsy();

    // a volume call on it fails at the short deadline; remove -f forgets the volume anyway
    const rm = await timed(vol('removeVolume', { name: 'gv1' }));
    expect(rm.err?.details).toMatch(/in use/);
    await h.c('removeContainer', { id: res.id, force: true });
    const rmf = await timed(vol('removeVolume', { name: 'gv1', force: true }));
    expect(rmf.err).toBeUndefined();
    expect(rmf.ms).toBeGreaterThanOrEqual(SHORT_MS - 100);
    await h.c('removeContainer', { id: other, force: true });
    await h.c('removeContainer', { id: quick, force: true });
    } finally {
      stuck.heal();
    }
  });

  it('a plugin stuck in its handshake: volume ls answers within the budget with a warning', async () => {
    await vol('createVolume', { name: 'gv2', driver: 'stuckp' });
    // a new socket (plugin restarted) is activated again, and that hangs
    await stuck.stop();
    stuck.hang('*');
    await stuck.start();
    try {
      const ls = await timed(vol<supervisorV1.ListVolumesResponse>('listVolumes', {}));
      expect(ls.ms).toBeLessThan(LIST_BUDGET_MS + 1000);
      expect((ls.value!.volumes ?? []).map((v) => [v.name, v.driver])).toEqual(expect.arrayContaining([['localv', 'local'], ['gv2', 'stuckp']]));
      expect(ls.value!.warnings).toEqual(['list: volume plugins did not answer within 1 s']);
      const ps = await timed(h.c('listContainers', { all: true }));
      expect(ps.ms).toBeLessThan(1000);
    } finally {
      stuck.heal();
    }
    // a call joining the handshake still in flight waits for it (to its deadline); the next one gets through
    await waitFor(async () => vol('removeVolume', { name: 'gv2' }).then(() => true, () => false), 10000, 'remove gv2');
  });

  it('a plugin answering garbage fails the calls that need it with a clear error', async () => {
    await vol('createVolume', { name: 'gb1', driver: 'tp' });
    plugin.garbage('Get', 'Mount');
    try {
      const insp = await vol('inspectVolume', { name: 'gb1' }).catch((e: ServiceError) => e);
      expect((insp as ServiceError).details).toMatch(/^get gb1: VolumeDriver\.Get: error reading plugin response: /);
      const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['true'] } }, hostConfig: { mounts: [{ type: 'volume', source: 'gb1', target: '/g' }] } });
      const start = await h.c('startContainer', { id: res.id }).catch((e: ServiceError) => e);
      expect((start as ServiceError).details).toMatch(/^error while mounting volume 'gb1': VolumeDriver\.Mount: error reading plugin response/);
      await h.c('removeContainer', { id: res.id, force: true });
    } finally {
      plugin.heal();
    }
    await vol('removeVolume', { name: 'gb1' });
  });

  it('a plugin that is gone: its volumes are listed from the records with a warning; local calls unaffected', async () => {
    await vol('createVolume', { name: 'gone1', driver: 'tp' });
    await plugin.stop();
    try {
      const ls = await timed(vol<supervisorV1.ListVolumesResponse>('listVolumes', {}));
      expect(ls.ms).toBeLessThan(LIST_BUDGET_MS + 1000);
      expect((ls.value!.volumes ?? []).map((v) => v.name)).toEqual(expect.arrayContaining(['gone1', 'localv']));
      // the socket file stays behind a killed plugin: found, but refusing
      expect(ls.value!.warnings).toEqual([expect.stringMatching(/^list tp: /)]);
    } finally {
      await plugin.start();
    }
    await vol('removeVolume', { name: 'gone1' });
  });
});
