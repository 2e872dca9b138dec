import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '@drydock/logging';
import { backingFilesystem, parseOsRelease, parseRuncVersion, probeHostFacts, type HostProbe } from './host-facts';

const log = createLogger({ service: 'test', level: 'silent' });

describe('host facts', () => {
  let root: string;
  const put = (path: string, text = '') => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'hostfacts-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  // the outputs of Debian 12's runc and containerd packages, as dockerd 20.10.24 shows them
  const probe = (over: Partial<HostProbe> = {}): HostProbe => ({
    hostRoot: root,
    containerdVersion: async () => ({ version: '1.6.20~ds1', revision: '1.6.20~ds1-1+deb12u3' }),
    runcVersionText: async () => 'runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n',
    snapshotterRoot: async () => root,
    ...over,
  });

  it('reads versions, the OS, cgroup v1 controllers and sysctls', async () => {
    put('etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n');
    for (const f of ['memory/memory.limit_in_bytes', 'memory/memory.memsw.limit_in_bytes', 'cpu/cpu.cfs_period_us', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.shares', 'cpuset/cpuset.cpus', 'pids/pids.max']) put(`sys/fs/cgroup/${f}`);
    put('proc/sys/net/ipv4/ip_forward', '1\n');
    put('proc/sys/net/bridge/bridge-nf-call-iptables', '0\n');
    const f = await probeHostFacts(probe(), log);
    expect(f).toMatchObject({
      containerd: { version: '1.6.20~ds1', revision: '1.6.20~ds1-1+deb12u3' },
      runc: { version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1' },
      os: { name: 'Debian GNU/Linux 12 (bookworm)', version: '12' },
      cgroupVersion: '1',
      capabilities: { memoryLimit: true, swapLimit: true, cpuCfsPeriod: true, cpuCfsQuota: true, cpuShares: true, cpuset: true, pidsLimit: true, ipv4Forwarding: true, bridgeNfIptables: false, bridgeNfIp6tables: false },
    });
    expect(f.driverStatus).toEqual([['Backing Filesystem', expect.any(String)], ['Supports d_type', 'true']]);
  });

  it('reads cgroup v2 from cgroup.controllers', async () => {
    put('sys/fs/cgroup/cgroup.controllers', 'cpuset cpu io memory pids\n');
    const f = await probeHostFacts(probe(), log);
    expect(f.cgroupVersion).toBe('2');
    expect(f.capabilities).toMatchObject({ memoryLimit: true, swapLimit: true, cpuShares: true, cpuset: true, pidsLimit: true });
  });

  it('an unreadable fact is empty, never a failure', async () => {
    const f = await probeHostFacts(
      probe({
        containerdVersion: async () => Promise.reject(new Error('unavailable')),
        runcVersionText: async () => Promise.reject(new Error('ENOENT')),
        snapshotterRoot: async () => undefined,
      }),
      log,
    );
    expect(f).toMatchObject({ containerd: { version: '', revision: '' }, runc: { version: '', commit: '' }, os: { name: 'Linux', version: '' }, cgroupVersion: '', driverStatus: [] });
  });

  it('parses the formats', () => {
    expect(parseRuncVersion('runc version 1.1.12\ncommit: v1.1.12-0-g51d5e946\n')).toEqual({ version: '1.1.12', commit: 'v1.1.12-0-g51d5e946' });
    expect(parseOsRelease('PRETTY_NAME=Alpine\nVERSION_ID=3.19.1\n')).toEqual({ name: 'Alpine', version: '3.19.1' });
    expect(backingFilesystem(0xef53)).toBe('extfs');
    expect(backingFilesystem(0x58465342)).toBe('xfs');
  });
});
