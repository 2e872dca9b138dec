import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CrashRun } from './support/crash-run';
import { SupervisorHarness } from './support/harness';

/**
 * network-crash.int's approach for overlay networks on a node alone (file store): a supervisor
 * SIGKILLed at each endpoint crash point (DRYDOCK_SUPERVISOR_CRASH_AT) of a connect or a start on
 * an overlay leaves, once it is back, no veth on the overlay's bridge, no lease or endpoint in the
 * overlay store (<stateDir>/supervisor/network/overlay) and no endpoint record; the VXLAN device
 * and the network stay; the same operation then succeeds with the first address.
 */
describe('overlay networks after a crash mid-endpoint (node alone, real kernel objects)', () => {
  const h = new SupervisorHarness();
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();
  const lines = (cmd: string) => sh(cmd).split('\n').filter(Boolean);
  const netDir = () => join(h.stateDir, 'supervisor', 'network');
  const ovDir = () => join(netDir(), 'overlay');
  const readJson = <T>(dir: string): T[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T) : []);

  /** What the test's overlay has in the kernel and in the records, as sorted lists. */
  const snapshot = () => ({
    networks: readJson<{ name: string; state: string; driver: string }>(join(netDir(), 'networks')).map((n) => `${n.name}:${n.driver}:${n.state}`).sort(),
    bridges: h.bridges().sort(),
    vxlans: (JSON.parse(sh('ip -d -j link show type vxlan') || '[]') as { ifname: string; master?: string }[]).filter((l) => l.master?.startsWith(h.netPrefix)).map((l) => `${l.ifname}@${l.master}`).sort(),
    veths: lines('ip -o link show type veth')
      .map((l) => / master (\S+)/.exec(l)?.[1] ?? '')
      .filter((m) => m.startsWith(h.netPrefix))
      .sort(),
    rules: [...lines('iptables-save -t filter'), ...lines('iptables-save -t nat')].filter((l) => l.includes(`${h.chainPrefix}-`)).map((l) => l.replace(/\[\d+:\d+\]/g, '')).sort(),
    // the overlay store's leases and endpoints (networks.json holds the networks)
    store: existsSync(ovDir()) ? readdirSync(ovDir()).filter((f) => f !== 'networks.json').sort() : [],
    endpoints: readJson<{ containerId: string; run?: { endpoints: { networkId: string; ip: string; state: string }[] } }>(join(netDir(), 'endpoints'))
      .flatMap((c) => (c.run?.endpoints ?? []).map((e) => `${c.containerId.slice(0, 12)}:${e.networkId.slice(0, 12)}:${e.ip}:${e.state}`))
      .sort(),
  });
  type Snapshot = ReturnType<typeof snapshot>;
  const ifacesIn = (pid: number) => lines(`nsenter -t ${pid} -n ip -o link show`).map((l) => l.split(':')[1].trim().split('@')[0]).filter((n) => n !== 'lo').sort();

  const crash = new CrashRun(h);
  const crashDuring = (point: string, op: () => Promise<unknown>): Promise<Snapshot> => crash.during(point, op, snapshot);

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  afterEach(() => crash.reset(), 60000);

  afterAll(async () => {
    await h.teardown();
    expect(h.bridges()).toEqual([]);
    expect(sh(`iptables-save | grep -c -- '${h.chainPrefix}-' || true`).trim()).toBe('0');
  }, 120000);

  const points: [string, (before: Snapshot, crashed: Snapshot, br: string) => void][] = [
    ['endpoint:leased', (before, crashed) => {
      // the lease is in the overlay store and the endpoint in the record; no CNI ADD yet
      expect(crashed.store.filter((f) => f.startsWith('lease-'))).toHaveLength(1);
      expect(crashed.store.filter((f) => f.startsWith('ep-'))).toHaveLength(0);
      expect(crashed.endpoints.filter((e) => e.endsWith(':adding'))).toHaveLength(1);
      expect(crashed.veths).toEqual(before.veths);
    }],
    ['endpoint:added', (before, crashed, br) => {
      // the veth is on the overlay's bridge and the endpoint published; the record still says adding
      expect(crashed.store.filter((f) => f.startsWith('lease-'))).toHaveLength(1);
      expect(crashed.store.filter((f) => f.startsWith('ep-'))).toHaveLength(1);
      expect(crashed.endpoints.filter((e) => e.endsWith(':adding'))).toHaveLength(1);
      expect(crashed.veths.filter((m) => m === br)).toHaveLength(before.veths.filter((m) => m === br).length + 1);
    }],
  ];

  describe.each(points)('network connect of a running container to an overlay killed at %s', (point, made) => {
    it('leaves no veth, lease, published endpoint or endpoint record of the connect, and the connect gets the first address after', async () => {
      const net = await h.n('createNetwork', { name: 'ovconn', driver: 'overlay', ipam: { config: [{ subnet: '10.252.43.0/24' }] } });
      const br = `${h.netPrefix}o${net.id.slice(0, 8)}`;
      const id = await h.run('sleep 120', { name: 'conn' });
      const pid = (await h.inspect(id)).state!.pid!;
      const ip = (await h.inspect(id)).networkSettings!.ipAddress;
      const before = snapshot();
      expect(before.vxlans).toHaveLength(1);
      expect(before.store).toEqual([]);

      const crashed = await crashDuring(point, () => h.n('connectNetwork', { network: 'ovconn', container: id, endpointConfig: {} }));
      made(before, crashed, br);
      expect(snapshot()).toEqual(before);
      expect(ifacesIn(pid)).toEqual(['eth0']);
      const info = await h.inspect(id);
      expect([info.state!.status, info.state!.pid, info.networkSettings!.ipAddress]).toEqual(['running', pid, ip]);
      expect(Object.keys(info.networkSettings!.networks!)).toEqual(['bridge']);

      await h.n('connectNetwork', { network: 'ovconn', container: id, endpointConfig: {} });
      expect((await h.inspect(id)).networkSettings!.networks!.ovconn.ipAddress).toBe('10.252.43.2');
      expect(ifacesIn(pid)).toHaveLength(2);
      const joined = snapshot();
      expect(joined.store.filter((f) => f.startsWith('lease-'))).toHaveLength(1);
      expect(joined.store.filter((f) => f.startsWith('ep-'))).toHaveLength(1);
      // (the crashed connect's interface name stays used: eth2)
      const added = ifacesIn(pid).find((n) => n !== 'eth0')!;
      expect(sh(`nsenter -t ${pid} -n ip -o link show ${added}`)).toMatch(/ mtu 1450 /);
      await h.c('removeContainer', { id, force: true });
      expect(snapshot().store).toEqual([]);
      await h.n('removeNetwork', { id: net.id });
      expect(snapshot().vxlans).toEqual([]);
    }, 90000);
  });

  describe.each([...points, ['start:prepared', (before: Snapshot, crashed: Snapshot, br: string) => {
    expect(crashed.store.filter((f) => f.startsWith('ep-'))).toHaveLength(1);
    expect(crashed.endpoints.filter((e) => e.endsWith(':ready'))).toHaveLength(1);
    expect(crashed.veths.filter((m) => m === br)).toHaveLength(1);
  }] as [string, (before: Snapshot, crashed: Snapshot, br: string) => void]])('a start on an overlay killed at %s', (point, made) => {
    it('leaves the container created with no veth, lease, published endpoint or endpoint record, and the start gets the first address after', async () => {
      const net = await h.n('createNetwork', { name: 'ovstart', driver: 'overlay', ipam: { config: [{ subnet: '10.252.44.0/24' }] } });
      const br = `${h.netPrefix}o${net.id.slice(0, 8)}`;
      const { id } = await h.c('createContainer', { name: 'st', config: { image: 'busybox', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: 'ovstart' } });
      const before = snapshot();

      const crashed = await crashDuring(point, () => h.c('startContainer', { id }));
      made(before, crashed, br);
      expect(snapshot()).toEqual(before);
      const info = await h.inspect(id);
      expect([info.state!.status, info.networkSettings!.ipAddress]).toEqual(['created', '']);

      await h.c('startContainer', { id });
      expect((await h.inspect(id)).networkSettings!.networks!.ovstart.ipAddress).toBe('10.252.44.2');
      expect(snapshot().veths.filter((m) => m === br)).toHaveLength(1);
      await h.c('removeContainer', { id, force: true });
      expect(snapshot()).toEqual(before);
      await h.n('removeNetwork', { id: net.id });
      expect(snapshot().vxlans).toEqual([]);
    }, 90000);
  });
});
