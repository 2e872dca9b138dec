import { status, type ServiceError } from '@grpc/grpc-js';
import type { supervisorV1 } from '@drydock/proto';
import { grpcCode, SupervisorHarness } from './support/harness';

type Cb<T> = (err: ServiceError | null, res: T) => void;

/**
 * HostConfig.volumes_from over the supervisor's gRPC API against real containerd: the copied
 * mounts are part of the container's record, so a restarted supervisor still mounts them and
 * still counts the volume as in use.
 */
describe('volumes-from (real containerd)', () => {
  const h = new SupervisorHarness();
  const vol = <Res>(name: keyof supervisorV1.VolumesClient, req: unknown): Promise<Res> =>
    h.call(h.volumes, h.volumes[name] as unknown as (req: unknown, cb: Cb<Res>) => unknown, req);

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
  }, 120000);

  it('keeps the shared mounts and the volume use across a supervisor restart', async () => {
    const mounts = [{ type: 'volume', source: 'vf-int', target: '/data', readOnly: false, options: '' }];
    const src = await h.run('echo kept > /data/f', { name: 'vf-int-src', hostConfig: { mounts } });
    expect(await h.wait(src)).toBe(0);
    const reader = (await h.c('createContainer', { name: 'vf-int-reader', config: { image: 'busybox', cmd: { values: ['cat', '/data/f'] } }, hostConfig: { volumesFrom: ['vf-int-src:ro'] } })).id as string;
    const info = await h.inspect(reader);
    expect(info.hostConfig?.volumesFrom).toEqual(['vf-int-src:ro']);
    expect(info.hostConfig?.mounts).toEqual([expect.objectContaining({ type: 'volume', source: 'vf-int', target: '/data', readOnly: true, volumesFrom: src })]);
    expect(info.mounts).toEqual([expect.objectContaining({ name: 'vf-int', destination: '/data', rw: false, mode: '' })]);

    await h.kill();
    await h.startSupervisor();
    await h.c('removeContainer', { id: src });
    const inUse = await vol('removeVolume', { name: 'vf-int' }).then(() => undefined, (e: ServiceError) => e);
    expect(grpcCode(inUse)).toBe(status.FAILED_PRECONDITION);
    expect(inUse?.details).toBe(`remove vf-int: volume is in use - [${reader}]`);
    await h.c('startContainer', { id: reader });
    expect(await h.wait(reader)).toBe(0);
    expect((await h.logs(reader)).stdout).toBe('kept\n');
    await h.c('removeContainer', { id: reader });
    await vol('removeVolume', { name: 'vf-int' });
  }, 90000);

  it('refuses a missing source and a bad mode as invalid arguments, creating nothing', async () => {
    const before = ((await h.c('listContainers', { all: true })).containers ?? []).length;
    const missing = await h.c('createContainer', { config: { image: 'busybox' }, hostConfig: { volumesFrom: ['vf-nope'] } }).then(() => undefined, (e: ServiceError) => e);
    expect(grpcCode(missing)).toBe(status.INVALID_ARGUMENT);
    expect(missing?.details).toBe('No such container: vf-nope');
    const self = await h.c('createContainer', { name: 'vf-self', config: { image: 'busybox' }, hostConfig: { volumesFrom: ['vf-self'] } }).then(() => undefined, (e: ServiceError) => e);
    expect(self?.details).toBe('No such container: vf-self');
    const mode = await h.c('createContainer', { config: { image: 'busybox' }, hostConfig: { volumesFrom: ['x:rshared'] } }).then(() => undefined, (e: ServiceError) => e);
    expect(grpcCode(mode)).toBe(status.INVALID_ARGUMENT);
    expect(mode?.details).toBe('invalid mode: rshared');
    expect(((await h.c('listContainers', { all: true })).containers ?? []).length).toBe(before);
  });
});
