import { InvalidArgumentError } from '@drydock/errors';
import { validateResources, type HostConfigLimits } from './index';

const MiB = 1024 * 1024;

function err(hc: HostConfigLimits, cpus = 2): string | undefined {
  try {
    validateResources(hc, cpus);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
}

describe('validateResources', () => {
  it('accepts an empty config and sane limits', () => {
    expect(err({})).toBeUndefined();
    expect(err({ memory: 6 * MiB, memorySwap: -1, nanoCpus: 2e9, pidsLimit: -1, cpuQuota: -1, shmSize: 0 })).toBeUndefined();
    expect(err({ cpuPeriod: 1000, cpuQuota: 1000, memory: 100 * MiB, memorySwap: 100 * MiB })).toBeUndefined();
  });

  it('memory minimum (also for negative values, like Docker)', () => {
    expect(err({ memory: 6 * MiB - 1 })).toBe('Minimum memory limit allowed is 6MB');
    expect(err({ memory: -1 })).toBe('Minimum memory limit allowed is 6MB');
  });

  it('memory swap against memory', () => {
    expect(err({ memory: 64 * MiB, memorySwap: 32 * MiB })).toBe(
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    );
    expect(err({ memorySwap: 32 * MiB })).toBe('You should always set the Memory limit when using Memoryswap limit, see usage');
  });

  it('swappiness and reservation', () => {
    expect(err({ memorySwappiness: 101 })).toBe('Invalid value: 101, valid memory swappiness range is 0-100');
    expect(err({ memorySwappiness: -1 })).toBeUndefined();
    expect(err({ memoryReservation: MiB })).toBe('Minimum memory reservation allowed is 6MB');
    expect(err({ memory: 10 * MiB, memoryReservation: 20 * MiB })).toBe(
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    );
  });

  it('nano CPUs conflict with period and quota', () => {
    expect(err({ nanoCpus: 1e9, cpuPeriod: 100000 })).toBe('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    expect(err({ nanoCpus: 1e9, cpuQuota: 50000 })).toBe('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  });

  it('nano CPUs range', () => {
    const msg = 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available';
    expect(err({ nanoCpus: 2e9 + 1 })).toBe(msg);
    expect(err({ nanoCpus: -1 })).toBe(msg);
    expect(err({ nanoCpus: 1e7 - 1 })).toBe(msg);
    expect(err({ nanoCpus: 1e7 })).toBeUndefined();
    expect(err({ nanoCpus: 9e9 }, 8)).toBe('Range of CPUs is from 0.01 to 8.00, as there are only 8 CPUs available');
  });

  it('cfs period and quota bounds', () => {
    const period = 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)';
    expect(err({ cpuPeriod: 999 })).toBe(period);
    expect(err({ cpuPeriod: 1000001 })).toBe(period);
    expect(err({ cpuPeriod: -5 })).toBe(period);
    expect(err({ cpuQuota: 999 })).toBe('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  });

  it('negative shares, blkio weight, shm size, oom score', () => {
    expect(err({ cpuShares: -1 })).toBe('shares: invalid argument');
    expect(err({ blkioWeight: 5 })).toBe('Range of blkio weight is from 10 to 1000');
    expect(err({ shmSize: -1 })).toBe('SHM size can not be less than 0');
    expect(err({ oomScoreAdj: 1001 })).toBe('Invalid value 1001, range for oom score adj is [-1000, 1000]');
  });
});
