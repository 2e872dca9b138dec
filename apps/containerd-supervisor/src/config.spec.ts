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
