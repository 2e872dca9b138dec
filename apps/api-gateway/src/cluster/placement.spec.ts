import { FailedPreconditionError, UnavailableError, toHttpError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import type { schedulerV1 } from '@drydock/proto';
import type { SupervisorClient } from '../backend/supervisor-client';
import { SchedulerPlacement, type PlaceFn } from './placement';

const local = { address: 'local:1' } as SupervisorClient;
const remote = { address: '10.0.0.2:7701' } as SupervisorClient;

function placement(place: PlaceFn, down: string[] = []) {
  return new SchedulerPlacement({
    nodeDown: (id) => down.includes(id),
    local,
    localNodeId: async () => 'na',
    place,
    connect: (address) => (address === remote.address ? remote : ({ address } as SupervisorClient)),
    directory: () => undefined,
    retryForMs: 5000,
    callTimeoutMs: 1000,
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
}

const placed = (req: schedulerV1.PlaceRequest): schedulerV1.PlaceResponse => ({
  nodeId: 'nb',
  nodeName: 'b',
  supervisorAddress: remote.address,
  env: (req.env ?? []).filter((e) => !e.startsWith('constraint:')),
  labels: { ...(req.labels ?? {}), 'com.docker.swarm.constraints': '["node==b"]' },
});

describe('SchedulerPlacement', () => {
  it('fails at once when the scheduler places on a node this gateway sees down', async () => {
    const place: PlaceFn = async (req) => placed(req);
    const req = { name: 'x', config: { image: 'busybox', env: ['constraint:node==b'] } };
    const err = await placement(place, ['nb']).target(req).catch((e) => e);
    expect(toHttpError(err)).toMatchObject({ status: 503, message: 'the container was placed on node b, which is down; retry' });
    expect((await placement(place, ['nc']).target(req)).sc).toBe(remote);
  });

  it('keeps a create that asks for nothing on the local node without calling the scheduler', async () => {
    const place = jest.fn<ReturnType<PlaceFn>, Parameters<PlaceFn>>();
    const req = { name: 'x', config: { image: 'busybox', env: ['A=1', 'constraint'] } };
    const t = await placement(place).target(req);
    expect(t.sc).toBe(local);
    expect(t.request).toBe(req);
    expect(place).not.toHaveBeenCalled();
  });

  it("sends HostConfig.VolumesFrom and Links to the scheduler (dependencies: the source's node)", async () => {
    const asked: schedulerV1.PlaceRequest[] = [];
    const place: PlaceFn = async (req) => (asked.push(req), placed(req));
    await placement(place).target({ config: { image: 'busybox', env: ['constraint:node==b'] }, hostConfig: { volumesFrom: ['store:ro', 'other'], links: ['db:d'] } });
    expect(asked.map((r) => [r.volumesFrom, r.links])).toEqual([[['store:ro', 'other'], ['db:d']]]);
  });

  it('refuses a malformed expression as the client error before asking the scheduler', async () => {
    const place = jest.fn<ReturnType<PlaceFn>, Parameters<PlaceFn>>();
    const err = await placement(place).target({ config: { image: 'busybox', env: ['constraint:node=b'] } }).catch((e) => e);
    expect(toHttpError(err)).toMatchObject({ status: 400, message: 'One of operator ==, != is expected' });
    const label = await placement(place).target({ config: { image: 'busybox', labels: { 'com.docker.swarm.affinities': '["bad key==x"]' } } }).catch((e) => e);
    expect(toHttpError(label)).toMatchObject({ status: 400, message: "Key 'bad key' is invalid" });
    expect(place).not.toHaveBeenCalled();
  });

  it('retries while the scheduler is unavailable with one request id, and creates on the chosen node as Swarm did', async () => {
    const ids: string[] = [];
    let calls = 0;
    const t = await placement(async (req) => {
      ids.push(req.requestId!);
      if (++calls < 3) throw new UnavailableError('14 UNAVAILABLE: No connection established');
      return placed(req);
    }).target({ name: 'db', config: { image: 'busybox', env: ['constraint:node==b', 'KEEP=1'] }, hostConfig: { memory: '1048576' } });
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(t.sc).toBe(remote);
    expect(t.request.config?.env).toEqual(['KEEP=1']);
    expect(t.request.config?.labels).toMatchObject({ 'com.docker.swarm.constraints': '["node==b"]', 'com.docker.swarm.id': ids[0] });
  });

  it('answers no fitting node with the scheduler text as Swarm answered it (500)', async () => {
    const text = 'Unable to find a node that satisfies the following conditions \n[node==nope]';
    const err = await placement(async () => {
      throw new FailedPreconditionError(text);
    })
      .target({ config: { image: 'busybox', env: ['constraint:node==nope'] } })
      .catch((e) => e);
    expect(toHttpError(err)).toMatchObject({ status: 500, message: text });
  });
});
