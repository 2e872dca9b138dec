import { InvalidArgumentError } from '@drydock/errors';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, defaultSpec, type Spec } from './index';

const caps = [...DEFAULT_CAPABILITIES];

// What Docker 20.10.24 writes for `docker run --network none -h abc busybox sh` (minus seccomp,
// apparmor, the libnetwork hook and the absolute rootfs path), with Drydock's nofile rlimit.
const dockerDefault: Spec = {
  ociVersion: '1.0.2-dev',
  process: {
    user: { uid: 0, gid: 0, additionalGids: [0, 10] },
    args: ['sh'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=abc'],
    cwd: '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
    oomScoreAdj: 0,
  },
  root: { path: 'rootfs' },
  hostname: 'abc',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: '/c/x/resolv.conf', options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: '/c/x/hostname', options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: '/c/x/hosts', options: ['rbind', 'rprivate'] },
  ],
  linux: {
    sysctl: { 'net.ipv4.ping_group_range': '0 2147483647', 'net.ipv4.ip_unprivileged_port_start': '0' },
    resources: {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
        { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
        { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
        { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
      ],
      memory: { disableOOMKiller: false },
      cpu: { shares: 0 },
      blockIO: { weight: 0 },
    },
    cgroupsPath: '/drydock/x',
    namespaces: [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }],
    maskedPaths: [
      '/proc/asound',
      '/proc/acpi',
      '/proc/kcore',
      '/proc/keys',
      '/proc/latency_stats',
      '/proc/timer_list',
      '/proc/timer_stats',
      '/proc/sched_debug',
      '/proc/scsi',
      '/sys/firmware',
    ],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};

const base = {
  args: ['sh'],
  env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=abc'],
  hostname: 'abc',
  cgroupsPath: '/drydock/x',
  user: { uid: 0, gid: 0, additionalGids: [0, 10] },
  networkFiles: { resolvConf: '/c/x/resolv.conf', hostname: '/c/x/hostname', hosts: '/c/x/hosts' },
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('defaultSpec', () => {
  it('equals what Docker 20.10 generates for a plain container', () => {
    expect(defaultSpec(base)).toStrictEqual(dockerDefault);
  });

  it('serialises without the fields Go would omit', () => {
    const json = JSON.stringify(defaultSpec(base));
    expect(json).not.toContain('terminal');
    expect(json).not.toContain('noNewPrivileges');
    expect(json).not.toContain('inheritable');
    expect(json).not.toContain('"readonly"');
  });

  it('gives a non-root user only the bounding set', () => {
    const s = defaultSpec({ ...base, user: { uid: 1000, gid: 1000, additionalGids: [1000] } });
    expect(s.process!.capabilities).toStrictEqual({ bounding: caps });
    expect(s.process!.user).toStrictEqual({ uid: 1000, gid: 1000, additionalGids: [1000] });
  });

  it('sets terminal and console size only with a tty', () => {
    const s = defaultSpec({ ...base, terminal: true, consoleSize: { height: 24, width: 80 } });
    expect(s.process!.terminal).toBe(true);
    expect(s.process!.consoleSize).toStrictEqual({ height: 24, width: 80 });
    expect(defaultSpec({ ...base, consoleSize: { height: 24, width: 80 } }).process!.consoleSize).toBeUndefined();
  });

  describe('capabilities', () => {
    it('drops then appends, accepting lower case and missing CAP_', () => {
      const s = defaultSpec({ ...base, capAdd: ['sys_admin', 'CAP_NET_ADMIN'], capDrop: ['chown', 'CAP_KILL'] });
      expect(s.process!.capabilities!.bounding).toStrictEqual([
        'CAP_DAC_OVERRIDE',
        'CAP_FSETID',
        'CAP_FOWNER',
        'CAP_MKNOD',
        'CAP_NET_RAW',
        'CAP_SETGID',
        'CAP_SETUID',
        'CAP_SETFCAP',
        'CAP_SETPCAP',
        'CAP_NET_BIND_SERVICE',
        'CAP_SYS_CHROOT',
        'CAP_AUDIT_WRITE',
        'CAP_SYS_ADMIN',
        'CAP_NET_ADMIN',
      ]);
    });

    it('handles ALL in add and in drop', () => {
      const all = defaultSpec({ ...base, capAdd: ['ALL'], capDrop: ['mknod'] }).process!.capabilities!.bounding!;
      expect(all).toHaveLength(37);
      expect(all).not.toContain('CAP_MKNOD');
      expect(all[0]).toBe('CAP_CHOWN');
      const none = defaultSpec({ ...base, capDrop: ['all'], capAdd: ['NET_BIND_SERVICE'] });
      expect(none.process!.capabilities!.bounding).toStrictEqual(['CAP_NET_BIND_SERVICE']);
    });

    it("rejects unknown capabilities with Docker's text", () => {
      expect(messageOf(() => defaultSpec({ ...base, capAdd: ['foo'] }))).toBe('unknown capability: "CAP_FOO"');
      // Docker 20.10 stops at CAP_AUDIT_READ.
      expect(messageOf(() => defaultSpec({ ...base, capDrop: ['bpf'] }))).toBe('unknown capability: "CAP_BPF"');
    });
  });

  it('privileged: all capabilities and devices, /sys and cgroup rw, nothing masked', () => {
    const dev = { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
    const s = defaultSpec({ ...base, privileged: true, hostDevices: [dev] });
    expect(s.process!.capabilities!.bounding).toStrictEqual([...ALL_CAPABILITIES]);
    expect(ALL_CAPABILITIES).toHaveLength(38);
    expect(s.linux!.resources!.devices).toStrictEqual([{ allow: true, access: 'rwm' }]);
    expect(s.linux!.devices).toStrictEqual([dev]);
    expect(s.linux!.maskedPaths).toBeUndefined();
    expect(s.linux!.readonlyPaths).toBeUndefined();
    expect(s.mounts!.find((m) => m.destination === '/sys')!.options).toStrictEqual(['nosuid', 'noexec', 'nodev']);
    expect(s.mounts!.find((m) => m.destination === '/sys/fs/cgroup')!.options).toStrictEqual(['nosuid', 'noexec', 'nodev']);
  });

  it('read-only rootfs: root readonly, ro added to /sys-like and network file mounts only', () => {
    const s = defaultSpec({ ...base, readonlyRootfs: true, mounts: [{ type: 'bind', source: '/h', destination: '/data' }] });
    expect(s.root).toStrictEqual({ path: 'rootfs', readonly: true });
    const opts = Object.fromEntries(s.mounts!.map((m) => [m.destination, m.options]));
    expect(opts['/proc']).toStrictEqual(['nosuid', 'noexec', 'nodev']);
    expect(opts['/dev/shm']).toStrictEqual(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
    expect(opts['/sys']).toStrictEqual(['nosuid', 'noexec', 'nodev', 'ro']);
    expect(opts['/etc/hosts']).toStrictEqual(['rbind', 'ro', 'rprivate']);
    expect(opts['/data']).toStrictEqual(['rbind', 'rprivate']);
  });

  it('host network: no network namespace and no network sysctls', () => {
    const s = defaultSpec({ ...base, network: 'host' });
    expect(s.linux!.namespaces).toStrictEqual([{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }]);
    expect(s.linux!.sysctl).toBeUndefined();
  });

  it('joins a given network namespace in place', () => {
    const s = defaultSpec({ ...base, network: { path: '/run/netns/x' } });
    expect(s.linux!.namespaces![1]).toStrictEqual({ type: 'network', path: '/run/netns/x' });
    expect(s.linux!.sysctl).toBeUndefined();
  });

  it('applies --sysctl and the domainname over the defaults', () => {
    const s = defaultSpec({ ...base, domainname: 'example.org', sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024' } });
    expect(s.linux!.sysctl).toStrictEqual({
      'kernel.domainname': 'example.org',
      'net.ipv4.ping_group_range': '0 2147483647',
      'net.ipv4.ip_unprivileged_port_start': '1024',
    });
  });

  it('host pid/ipc/uts remove namespaces; uts host drops the hostname; ipc host binds /dev/shm', () => {
    const s = defaultSpec({ ...base, pidMode: 'host', ipcMode: 'host', utsMode: 'host' });
    expect(s.linux!.namespaces).toStrictEqual([{ type: 'mount' }, { type: 'network' }]);
    expect(s.hostname).toBeUndefined();
    const shm = s.mounts!.filter((m) => m.destination === '/dev/shm');
    expect(shm).toStrictEqual([{ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] }]);
  });

  it('ipc none drops /dev/shm; shmSize sizes it', () => {
    expect(defaultSpec({ ...base, ipcMode: 'none' }).mounts!.some((m) => m.destination === '/dev/shm')).toBe(false);
    const shm = defaultSpec({ ...base, shmSize: 1024 }).mounts!.find((m) => m.destination === '/dev/shm')!;
    expect(shm.options).toStrictEqual(['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1024']);
  });

  it('private cgroup namespace on request', () => {
    expect(defaultSpec({ ...base, cgroupnsMode: 'private' }).linux!.namespaces!.at(-1)).toStrictEqual({ type: 'cgroup' });
  });

  it('user mounts: overriding defaults, sorted by depth after the defaults, tmpfs options merged', () => {
    const s = defaultSpec({
      ...base,
      networkFiles: { hosts: '/c/x/hosts' },
      mounts: [
        { type: 'bind', source: '/h/a/b', destination: '/a/b', readOnly: true, propagation: 'rslave' },
        { type: 'bind', source: '/h/a', destination: '/a', nonRecursive: true },
        { type: 'tmpfs', destination: '/dev/shm', data: 'size=1g' },
        { type: 'tmpfs', destination: '/run', data: 'exec,mode=1770' },
      ],
    });
    expect(s.mounts!.map((m) => m.destination)).toStrictEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/sys',
      '/sys/fs/cgroup',
      '/dev/mqueue',
      '/a',
      '/run',
      '/a/b',
      '/etc/hosts',
      '/dev/shm',
    ]);
    const by = Object.fromEntries(s.mounts!.map((m) => [m.destination, m]));
    expect(by['/a/b']).toStrictEqual({ destination: '/a/b', type: 'bind', source: '/h/a/b', options: ['rbind', 'ro', 'rslave'] });
    expect(by['/a'].options).toStrictEqual(['bind', 'rprivate']);
    expect(by['/dev/shm']).toStrictEqual({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1g'],
    });
    expect(by['/run'].options).toStrictEqual(['nosuid', 'nodev', 'rprivate', 'exec', 'mode=1770']);
  });

  it('a user /dev mount removes every default mount under /dev', () => {
    const s = defaultSpec({ ...base, networkFiles: undefined, mounts: [{ type: 'bind', source: '/dev', destination: '/dev' }] });
    expect(s.mounts!.map((m) => m.destination)).toStrictEqual(['/proc', '/sys', '/sys/fs/cgroup', '/dev']);
  });

  it('a user mount at a network file destination replaces the generated one', () => {
    const s = defaultSpec({ ...base, mounts: [{ type: 'bind', source: '/mine', destination: '/etc/hosts', readOnly: true }] });
    const hosts = s.mounts!.filter((m) => m.destination === '/etc/hosts');
    expect(hosts).toStrictEqual([{ destination: '/etc/hosts', type: 'bind', source: '/mine', options: ['rbind', 'ro', 'rprivate'] }]);
  });

  it('rejects bad tmpfs options', () => {
    expect(messageOf(() => defaultSpec({ ...base, mounts: [{ type: 'tmpfs', destination: '/t', data: 'foo' }] }))).toBe(
      'invalid tmpfs option ["foo"]',
    );
  });

  describe('resources', () => {
    it('memory: swap defaults to twice the limit, -1 means unlimited', () => {
      const m = (memorySwap?: number) => defaultSpec({ ...base, resources: { memory: 64 << 20, memorySwap } }).linux!.resources!.memory;
      expect(m()).toStrictEqual({ limit: 67108864, swap: 134217728, disableOOMKiller: false });
      expect(m(-1)).toStrictEqual({ limit: 67108864, disableOOMKiller: false });
      expect(m(100 << 20)).toStrictEqual({ limit: 67108864, swap: 104857600, disableOOMKiller: false });
      const noSwapAccounting = defaultSpec({ ...base, swapLimitSupported: false, resources: { memory: 64 << 20 } });
      expect(noSwapAccounting.linux!.resources!.memory).toStrictEqual({ limit: 67108864, disableOOMKiller: false });
    });

    it('memory reservation, swappiness, oom-kill-disable', () => {
      const s = defaultSpec({ ...base, resources: { memoryReservation: 32 << 20, memorySwappiness: 10, oomKillDisable: true } });
      expect(s.linux!.resources!.memory).toStrictEqual({ reservation: 33554432, swappiness: 10, disableOOMKiller: true });
    });

    it('cpu: --cpus becomes quota over a 100ms period; explicit values override', () => {
      const cpu = (r: object) => defaultSpec({ ...base, resources: r }).linux!.resources!.cpu;
      expect(cpu({ nanoCpus: 1.5e9 })).toStrictEqual({ shares: 0, period: 100000, quota: 150000 });
      expect(cpu({ nanoCpus: 1e7 })).toStrictEqual({ shares: 0, period: 100000, quota: 1000 });
      expect(cpu({ cpuShares: 512, cpuPeriod: 50000, cpuQuota: 25000, cpusetCpus: '0-1' })).toStrictEqual({
        shares: 512,
        cpus: '0-1',
        period: 50000,
        quota: 25000,
      });
    });

    it('pids: absent unless set, -1 for 0 or negative', () => {
      expect(defaultSpec(base).linux!.resources!.pids).toBeUndefined();
      expect(defaultSpec({ ...base, resources: { pidsLimit: 100 } }).linux!.resources!.pids).toStrictEqual({ limit: 100 });
      expect(defaultSpec({ ...base, resources: { pidsLimit: 0 } }).linux!.resources!.pids).toStrictEqual({ limit: -1 });
    });
  });

  describe('rlimits', () => {
    it('clamps the default nofile limit to the host hard limit', () => {
      const s = defaultSpec({ ...base, hostNofileHard: 524288 });
      expect(s.process!.rlimits).toStrictEqual([{ type: 'RLIMIT_NOFILE', hard: 524288, soft: 524288 }]);
    });

    it('keeps user ulimits first and lets a nofile ulimit replace the default', () => {
      const s = defaultSpec({
        ...base,
        ulimits: [
          { name: 'nproc', soft: 10, hard: 20 },
          { name: 'nofile', soft: 100, hard: 200 },
        ],
      });
      expect(s.process!.rlimits).toStrictEqual([
        { type: 'RLIMIT_NPROC', hard: 20, soft: 10 },
        { type: 'RLIMIT_NOFILE', hard: 200, soft: 100 },
      ]);
    });
  });

  describe('devices', () => {
    it('adds --device nodes and their cgroup rule, then --device-cgroup-rule entries', () => {
      const fuse = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
      const s = defaultSpec({ ...base, devices: [{ device: fuse, access: 'rwm' }], deviceCgroupRules: ['c 42:* rmw', 'a *:* m'] });
      expect(s.linux!.devices).toStrictEqual([fuse]);
      expect(s.linux!.resources!.devices!.slice(8)).toStrictEqual([
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
        { allow: true, type: 'c', major: 42, minor: -1, access: 'rmw' },
        { allow: true, type: 'a', major: -1, minor: -1, access: 'm' },
      ]);
    });

    it("rejects a malformed rule with Docker's text", () => {
      expect(messageOf(() => defaultSpec({ ...base, deviceCgroupRules: ['c 1:x r'] }))).toBe(
        "invalid device cgroup rule format: 'c 1:x r'",
      );
    });
  });

  it('explicit masked/readonly paths override, even when privileged', () => {
    const s = defaultSpec({ ...base, privileged: true, maskedPaths: ['/proc/kcore'], readonlyPaths: [] });
    expect(s.linux!.maskedPaths).toStrictEqual(['/proc/kcore']);
    expect(s.linux!.readonlyPaths).toBeUndefined();
  });

  it('sets noNewPrivileges, oomScoreAdj, rootPath, annotations when asked', () => {
    const s = defaultSpec({ ...base, noNewPrivileges: true, oomScoreAdj: -500, rootPath: '/abs/rootfs', annotations: { a: 'b' } });
    expect(s.process!.noNewPrivileges).toBe(true);
    expect(s.process!.oomScoreAdj).toBe(-500);
    expect(s.root).toStrictEqual({ path: '/abs/rootfs' });
    expect(s.annotations).toStrictEqual({ a: 'b' });
  });

  it('returns fresh arrays each time (no shared state between specs)', () => {
    const a = defaultSpec(base);
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    a.linux!.maskedPaths!.length = 0;
    expect(defaultSpec(base)).toStrictEqual(dockerDefault);
  });
});
