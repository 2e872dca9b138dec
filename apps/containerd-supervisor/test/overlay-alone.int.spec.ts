import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@drydock/infra';
import { supervisorV1 } from '@drydock/proto';
import { grpcCode, SupervisorHarness } from './support/harness';

/**
 * `docker network create -d overlay` on a node that belongs to no cluster (no DRYDOCK_CLUSTER):
 * the overlay works for that node alone, over the file store in <stateDir>/supervisor/network/overlay,
 * with real bridges, VXLAN devices, veths and iptables under the harness's private names.
 */
describe('overlay networks on a node alone (real bridge, vxlan, veths, iptables)', () => {
  // overlays made without --subnet take /24s of a /16 of their own
  const ovOctet = 150 + randomInt(40);
  const h = new SupervisorHarness();
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();
  const ovDir = () => join(h.stateDir, 'supervisor', 'network', 'overlay');
  const netRecords = () => join(h.stateDir, 'supervisor', 'network', 'networks');
  const bridgeOf = (id: string) => `${h.netPrefix}o${id.slice(0, 15 - h.netPrefix.length - 1)}`;

  type Vx = { ifname: string; ifalias?: string; mtu: number; master?: string; flags: string[]; linkinfo: { info_data: { id: number; port: number; learning?: boolean; proxy?: boolean } } };
  const vxlans = (): Vx[] => JSON.parse(sh('ip -d -j link show type vxlan') || '[]') as Vx[];
  const vxlanOf = (id: string) => vxlans().filter((l) => l.ifalias === `drydock-ovl:${id}`);
  const rulesOf = (id: string) => Number(sh(`iptables-save | grep -c 'drydock-net:${id}' || true`).trim());
  /** The file store's files naming the network (leases, endpoints) and whether networks.json holds it. */
  const storeOf = (id: string) => {
    const files = existsSync(ovDir()) ? readdirSync(ovDir()).filter((f) => f.includes(id)) : [];
    const table = existsSync(join(ovDir(), 'networks.json')) ? (JSON.parse(readFileSync(join(ovDir(), 'networks.json'), 'utf8')) as Record<string, unknown>) : {};
    return { files: files.sort(), inTable: id in table, record: existsSync(join(netRecords(), `${id}.json`)) };
  };
  const pidOf = async (id: string) => (await h.inspect(id)).state!.pid!;
  const ipOn = async (id: string, net: string) => (await h.inspect(id)).networkSettings!.networks![net].ipAddress!;
  /** busybox nslookup against the container's embedded DNS (host busybox in its network namespace). */
  const lookup = (pid: number, name: string): string[] => {
    let out = '';
    try {
      out = execFileSync('nsenter', ['-t', String(pid), '-n', 'busybox', 'nslookup', name, '127.0.0.11'], { timeout: 10000 }).toString();
    } catch (e) {
      out = String((e as { stdout?: Buffer }).stdout ?? '');
    }
    // the server's own "Address:" line comes first
    return [...out.split(/\n\s*\n/).slice(1).join('\n').matchAll(/Address:\s*(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]);
  };
  /** A short-lived container on `net` running `cmd`; its stdout. */
  const probe = async (net: string, cmd: string) => {
    const id = await h.run(cmd, { hostConfig: { networkMode: net } });
    await h.wait(id);
    const out = (await h.logs(id)).stdout;
    await h.c('removeContainer', { id, force: true });
    return out;
  };

  beforeAll(async () => {
    await h.setup({ env: () => ({ DRYDOCK_OVERLAY_POOLS: `10.${ovOctet}.0.0/16:24` }) });
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
    expect(h.bridges()).toEqual([]);
    expect(vxlans().filter((l) => l.master?.startsWith(h.netPrefix))).toEqual([]);
    expect(sh(`iptables-save | grep -c -- '${h.chainPrefix}-' || true`).trim()).toBe('0');
  }, 120000);

  it('creates an overlay without --subnet: scope swarm, a VXLAN device on its bridge; containers reach each other by name and address with MTU 1450; rm refuses in use and removes everything after', async () => {
    const { id } = await h.n('createNetwork', { name: 'ova', driver: 'overlay', attachable: true, checkDuplicate: true });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const { networks } = await h.n('listNetworks', {});
    const row = (networks as supervisorV1.Network[]).find((n) => n.name === 'ova')!;
    expect([row.id, row.driver, row.scope, row.internal]).toEqual([id, 'overlay', 'swarm', false]);
    const subnet = row.ipam!.config![0].subnet!;
    expect(subnet).toMatch(new RegExp(`^10\\.${ovOctet}\\.\\d+\\.0/24$`));
    expect((await h.n('listNetworks', { filters: [{ key: 'driver', values: ['overlay'] }] })).networks.map((n: supervisorV1.Network) => n.name)).toEqual(['ova']);
    expect((await h.n('listNetworks', { filters: [{ key: 'scope', values: ['swarm'] }] })).networks.map((n: supervisorV1.Network) => n.name)).toEqual(['ova']);

    // the kernel objects: bridge with the gateway, the VXLAN device (alias, VNI, 4789, no learning, proxy) enslaved to it
    const br = bridgeOf(id);
    expect(h.bridges()).toContain(br);
    const gw = row.ipam!.config![0].gateway!;
    expect(sh(`ip -4 -o addr show dev ${br}`)).toContain(`${gw}/24`);
    const [vx, ...more] = vxlanOf(id);
    expect(more).toEqual([]);
    expect(vx.master).toBe(br);
    expect(vx.mtu).toBe(1450);
    expect(vx.flags).toContain('UP');
    expect(vx.linkinfo.info_data).toMatchObject({ port: 4789, learning: false, proxy: true });
    expect(vx.linkinfo.info_data.id).toBeGreaterThanOrEqual(4096);
    expect(rulesOf(id)).toBeGreaterThan(0);
    expect(storeOf(id)).toEqual({ files: [], inTable: true, record: true });

    const a = await h.run('sleep 120', { name: 'ova1', hostConfig: { networkMode: 'ova' } });
    const b = await h.run('sleep 120', { name: 'ova2', hostConfig: { networkMode: 'ova' }, endpoints: { ova: { aliases: ['bee'] } } });
    const ipA = await ipOn(a, 'ova');
    const ipB = await ipOn(b, 'ova');
    expect(ipA).not.toBe(ipB);
    expect([ipA, ipB].every((ip) => ip.startsWith(subnet.replace(/0\/24$/, '')))).toBe(true);
    // a lease and an endpoint file per container
    expect(storeOf(id).files.filter((f) => f.startsWith('lease-'))).toHaveLength(2);
    expect(storeOf(id).files.filter((f) => f.startsWith('ep-'))).toHaveLength(2);
    expect(vxlanOf(id)[0].master).toBe(br);
    expect(Number(sh(`ip -br link show master ${br} | grep -vc '^vx-' || true`).trim())).toBe(2);

    // MTU 1450 inside, a default route through the bridge's gateway
    const pa = await pidOf(a);
    // (sysfs is the mount namespace's: the host's eth0 there; ip asks the kernel in the container's netns)
    expect(sh(`nsenter -t ${pa} -n ip -o link show eth0`)).toMatch(/ mtu 1450 /);
    expect(sh(`nsenter -t ${pa} -n ip -4 route`)).toContain(`default via ${gw}`);
    // by address and by name, alias and short id from a container's own resolver
    const out = await probe('ova', `cat /sys/class/net/eth0/mtu; for t in ${ipA} ova1 ova2 bee ${b.slice(0, 12)}; do ping -c1 -W2 $t >/dev/null && echo ok-$t || echo no-$t; done`);
    expect(out.trim().split('\n')).toEqual(['1450', `ok-${ipA}`, 'ok-ova1', 'ok-ova2', 'ok-bee', `ok-${b.slice(0, 12)}`]);
    expect(lookup(pa, 'ova2')).toEqual([ipB]);
    expect(lookup(pa, 'bee')).toEqual([ipB]);
    expect(sh(`nsenter -t ${await pidOf(b)} -n busybox ping -c1 -W2 ${ipA} >/dev/null && echo ok`).trim()).toBe('ok');

    const inspected = (await h.n('inspectNetwork', { id: 'ova' })).network as supervisorV1.Network;
    expect(inspected.scope).toBe('swarm');
    expect(Object.keys(inspected.containers!).sort()).toEqual([a, b].sort());

    const inUse = await h.n('removeNetwork', { id: 'ova' }).catch((e) => e);
    expect([grpcCode(inUse), inUse.details]).toEqual([7, `error while removing network: network ova id ${id} has active endpoints`]);
    // nothing taken down by the refusal
    expect(vxlanOf(id)).toHaveLength(1);
    expect(storeOf(id).inTable).toBe(true);

    for (const c of [a, b]) await h.c('removeContainer', { id: c, force: true });
    expect(storeOf(id).files).toEqual([]);
    await h.n('removeNetwork', { id: 'ova' });
    expect(h.bridges()).not.toContain(br);
    expect(vxlanOf(id)).toEqual([]);
    expect(rulesOf(id)).toBe(0);
    expect(storeOf(id)).toEqual({ files: [], inTable: false, record: false });
    const gone = await h.n('inspectNetwork', { id: 'ova' }).catch((e) => e);
    expect([grpcCode(gone), gone.details]).toEqual([5, 'network ova not found']);
  }, 120000);

  it('creates an --internal overlay with --subnet: its addresses, no route out, isolated from a bridge network', async () => {
    const { id } = await h.n('createNetwork', { name: 'ovi', driver: 'overlay', internal: true, ipam: { config: [{ subnet: `10.${ovOctet}.200.0/24` }] } });
    const row = ((await h.n('listNetworks', {})).networks as supervisorV1.Network[]).find((n) => n.name === 'ovi')!;
    expect([row.driver, row.scope, row.internal, row.ipam!.config![0].subnet, row.ipam!.config![0].gateway]).toEqual(['overlay', 'swarm', true, `10.${ovOctet}.200.0/24`, `10.${ovOctet}.200.1`]);
    expect(vxlanOf(id)[0].master).toBe(bridgeOf(id));
    const a = await h.run('sleep 120', { name: 'ovi1', hostConfig: { networkMode: 'ovi' } });
    expect(await ipOn(a, 'ovi')).toBe(`10.${ovOctet}.200.2`);
    const bridged = await h.run('sleep 120', { name: 'brx' });
    const ipBridged = (await h.inspect(bridged)).networkSettings!.ipAddress!;
    const out = await probe('ovi', `cat /sys/class/net/eth0/mtu; ip -4 route | grep -c default; ping -c1 -W2 ovi1 >/dev/null && echo ok-name; ping -c1 -W2 ${ipBridged} >/dev/null && echo reached || echo isolated`);
    expect(out.trim().split('\n')).toEqual(['1450', '0', 'ok-name', 'isolated']);
    for (const c of [a, bridged]) await h.c('removeContainer', { id: c, force: true });
    await h.n('removeNetwork', { id });
    expect(vxlanOf(id)).toEqual([]);
    expect(h.bridges()).not.toContain(bridgeOf(id));
    expect(storeOf(id)).toEqual({ files: [], inTable: false, record: false });
  }, 90000);

  it('refuses bad input with dockerd\'s texts and leaves nothing half made: overlapping subnets, a VNI clash or out of range, a taken name, an exhausted subnet', async () => {
    const vxOurs = () => vxlans().filter((l) => l.master?.startsWith(h.netPrefix)).map((l) => l.ifname).sort();
    const table = () => (existsSync(join(ovDir(), 'networks.json')) ? readFileSync(join(ovDir(), 'networks.json'), 'utf8') : '');
    const records = () => readdirSync(netRecords()).sort();
    const state = () => ({ bridges: h.bridges().sort(), vxlans: vxOurs(), rules: sh(`iptables-save | grep -- '${h.chainPrefix}-' | sed 's/\\[[0-9]*:[0-9]*\\]//' | sort`), table: table(), records: records(), store: readdirSync(ovDir()).sort() });
    const refused = async (req: object) => {
      const before = state();
      const err = await h.n('createNetwork', req).catch((e) => e);
      // nothing half made: no bridge, VXLAN device, store entry or record
      expect(state()).toEqual(before);
      return [grpcCode(err), err.details];
    };
    const overlaps = [7, 'Pool overlaps with other one on this address space'];

    // a subnet of a bridge network (the same, and one holding it)
    const br = await h.n('createNetwork', { name: 'brnet', ipam: { config: [{ subnet: `10.${ovOctet}.210.0/24` }] } });
    expect(await refused({ name: 'ovx', driver: 'overlay', ipam: { config: [{ subnet: `10.${ovOctet}.210.0/24` }] } })).toEqual(overlaps);
    expect(await refused({ name: 'ovx', driver: 'overlay', ipam: { config: [{ subnet: `10.${ovOctet}.208.0/21` }] } })).toEqual(overlaps);
    // another overlay's (and a bridge network on an overlay's)
    const vni = 5000 + randomInt(100000);
    const o1 = await h.n('createNetwork', { name: 'ov1', driver: 'overlay', options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni) }, ipam: { config: [{ subnet: `10.${ovOctet}.211.0/24` }] } });
    expect(vxlanOf(o1.id)[0].linkinfo.info_data.id).toBe(vni);
    expect(await refused({ name: 'ovx', driver: 'overlay', ipam: { config: [{ subnet: `10.${ovOctet}.211.128/25` }] } })).toEqual(overlaps);
    expect(await refused({ name: 'brx', ipam: { config: [{ subnet: `10.${ovOctet}.211.0/24` }] } })).toEqual(overlaps);

    // the VNI of another overlay, and VNIs out of 1..16777215
    expect(await refused({ name: 'ovx', driver: 'overlay', options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni) } })).toEqual([3, `vxlan id ${vni} is already in use by another overlay network`]);
    for (const bad of ['16777216', '0', 'abc']) {
      expect(await refused({ name: 'ovx', driver: 'overlay', options: { 'com.docker.network.driver.overlay.vxlanid_list': bad } })).toEqual([3, `invalid vxlan id value "${bad}" passed`]);
    }

    // a VNI a device that is not ours holds on 4789 (the kernel allows one): refused once the store had it, taken back
    const foreign = `${h.netPrefix}fx`;
    const held = vni + 1;
    sh(`ip link add ${foreign} type vxlan id ${held} dstport 4789 local 127.0.0.1 nolearning`);
    try {
      const [code, text] = await refused({ name: 'ovx', driver: 'overlay', options: { 'com.docker.network.driver.overlay.vxlanid_list': String(held) }, ipam: { config: [{ subnet: `10.${ovOctet}.213.0/24` }] } });
      expect([code, text]).toEqual([9, `vxlan id ${held} is in use by device ${foreign} on this node`]);
    } finally {
      sh(`ip link del ${foreign}`);
    }
    expect((await h.n('listNetworks', {})).networks.map((n: supervisorV1.Network) => n.name)).not.toContain('ovx');

    // a name a bridge network (or an overlay) has
    expect(await refused({ name: 'brnet', driver: 'overlay' })).toEqual([6, 'network with name brnet already exists']);
    expect(await refused({ name: 'ov1', driver: 'overlay' })).toEqual([6, 'network with name ov1 already exists']);
    expect(await refused({ name: 'ov1' })).toEqual([6, 'network with name ov1 already exists']);

    // an exhausted /30: the gateway .1 and one address, .2 (dockerd's count); the next start fails and leaves nothing
    const small = await h.n('createNetwork', { name: 'ovsmall', driver: 'overlay', ipam: { config: [{ subnet: `10.${ovOctet}.212.0/30` }] } });
    const first = await h.run('sleep 120', { name: 'fits', hostConfig: { networkMode: 'ovsmall' } });
    expect(await ipOn(first, 'ovsmall')).toBe(`10.${ovOctet}.212.2`);
    const before = { ...state(), veths: sh(`ip -br link show master ${bridgeOf(small.id)}`) };
    const { id: second } = await h.c('createContainer', { name: 'nofit', config: { image: 'busybox', cmd: { values: ['sleep', '120'] } }, hostConfig: { networkMode: 'ovsmall' } });
    const full = await h.c('startContainer', { id: second }).catch((e) => e);
    expect(full.details).toBe(`no available IPv4 addresses on this network's address pools: ovsmall (${small.id})`);
    expect({ ...state(), veths: sh(`ip -br link show master ${bridgeOf(small.id)}`) }).toEqual(before);
    expect(storeOf(small.id).files.filter((f) => f.startsWith('lease-'))).toHaveLength(1);
    expect((await h.inspect(second)).state!.status).toBe('created');
    // the address comes back with its container
    await h.c('removeContainer', { id: first, force: true });
    await h.c('startContainer', { id: second });
    expect(await ipOn(second, 'ovsmall')).toBe(`10.${ovOctet}.212.2`);

    await h.c('removeContainer', { id: second, force: true });
    for (const id of [small.id, o1.id, br.id]) await h.n('removeNetwork', { id });
    for (const id of [small.id, o1.id]) expect(storeOf(id)).toEqual({ files: [], inTable: false, record: false });
    expect(vxOurs()).toEqual([]);
  }, 120000);

  it('keeps a running container\'s overlay endpoint and DNS across a supervisor SIGKILL, and hands a new container another address', async () => {
    const { id } = await h.n('createNetwork', { name: 'ovr', driver: 'overlay', ipam: { config: [{ subnet: `10.${ovOctet}.201.0/24` }] } });
    const keep = await h.run('sleep 300', { name: 'keep', hostConfig: { networkMode: 'ovr' } });
    const peer = await h.run('sleep 300', { name: 'peer', hostConfig: { networkMode: 'ovr' } });
    const [ipKeep, ipPeer] = [await ipOn(keep, 'ovr'), await ipOn(peer, 'ovr')];
    const pid = await pidOf(keep);
    expect(lookup(pid, 'peer')).toEqual([ipPeer]);

    await h.kill();
    // while it is away: forwarding and the DNS helper go on
    expect(lookup(pid, 'peer')).toEqual([ipPeer]);
    expect(sh(`nsenter -t ${pid} -n busybox ping -c1 -W2 ${ipPeer} >/dev/null && echo ok`).trim()).toBe('ok');
    await h.startSupervisor();
    await waitFor(async () => h.n('listNetworks', {}).then(() => true, () => false), 15000, 'supervisor answering');

    const info = await h.inspect(keep);
    expect([info.state!.status, info.state!.pid, info.networkSettings!.networks!.ovr.ipAddress]).toEqual(['running', pid, ipKeep]);
    expect(vxlanOf(id)).toHaveLength(1);
    expect(vxlanOf(id)[0].master).toBe(bridgeOf(id));
    expect(storeOf(id).files.filter((f) => f.startsWith('lease-'))).toHaveLength(2);
    expect(storeOf(id).files.filter((f) => f.startsWith('ep-'))).toHaveLength(2);
    expect(lookup(pid, 'peer')).toEqual([ipPeer]);
    expect(Object.keys(((await h.n('inspectNetwork', { id: 'ovr' })).network as supervisorV1.Network).containers!).sort()).toEqual([keep, peer].sort());

    // no address handed twice after the restart
    const next = await h.run('sleep 120', { name: 'next', hostConfig: { networkMode: 'ovr' } });
    const ipNext = await ipOn(next, 'ovr');
    expect([ipKeep, ipPeer]).not.toContain(ipNext);
    expect(lookup(pid, 'next')).toEqual([ipNext]);
    expect(lookup(await pidOf(next), 'keep')).toEqual([ipKeep]);
    for (const c of [keep, peer, next]) await h.c('removeContainer', { id: c, force: true });
    await h.n('removeNetwork', { id });
    expect(vxlanOf(id)).toEqual([]);
    expect(storeOf(id)).toEqual({ files: [], inTable: false, record: false });
  }, 120000);
});
