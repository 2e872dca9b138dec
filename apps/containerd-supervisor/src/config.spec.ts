import { loadSupervisorConfig } from './config';

describe('supervisor config: DRYDOCK_SUPERVISOR_CRASH_AT (test hook)', () => {
  it('is off by default', () => {
    expect(loadSupervisorConfig({}).crashAt).toEqual([]);
  });

  it('takes known crash points, comma-separated', () => {
    expect(loadSupervisorConfig({ DRYDOCK_SUPERVISOR_CRASH_AT: 'network-create:bridge,start:prepared' }).crashAt).toEqual(['network-create:bridge', 'start:prepared']);
  });

  it('refuses an unknown point with the variable named', () => {
    expect(() => loadSupervisorConfig({ DRYDOCK_SUPERVISOR_CRASH_AT: 'network-create:bridge,nowhere' })).toThrow(/DRYDOCK_SUPERVISOR_CRASH_AT: expected a comma-separated list of crash points/);
  });
});

describe('supervisor config: DRYDOCK_CLUSTER', () => {
  it('is a single node by default, a cluster node with 1/true', () => {
    expect(loadSupervisorConfig({}).cluster).toBe(false);
    expect(loadSupervisorConfig({ DRYDOCK_CLUSTER: '1' })).toMatchObject({ cluster: true, natsReplicas: 1 });
    expect(loadSupervisorConfig({ DRYDOCK_CLUSTER: 'true', DRYDOCK_NATS_REPLICAS: '3' }).natsReplicas).toBe(3);
  });

  it('refuses values it cannot read, naming the variable', () => {
    expect(() => loadSupervisorConfig({ DRYDOCK_CLUSTER: 'yes please' })).toThrow(/DRYDOCK_CLUSTER/);
    expect(() => loadSupervisorConfig({ DRYDOCK_NATS_REPLICAS: '0' })).toThrow(/DRYDOCK_NATS_REPLICAS/);
  });
});
