import { execFileSync, spawnSync } from 'node:child_process';
import { createLogger } from '@drydock/logging';
import { OVERLAY_MTU, VxlanNet, vxlanName, type VxlanPeer } from '../src/networks/overlay/vxlan';

/**
 * VxlanNet against real kernel objects: three "hosts" (network namespaces ddvxt-h1..3 on
 * a private underlay bridge in ddvxt-ul, 10.251.0.1N/24), each with the overlay's bridge
 * (gateway 10.252.0.1/24 on every host, as each node's bridge carries it) and its VXLAN
 * device, and "containers" (namespaces with a veth into a host's bridge, MTU 1450). The
 * class runs with `netns` set to a host, as the supervisor runs inside its node's
 * namespace. IPv6 is off in every namespace so counters count only what a test sends.
 */
describe('vxlan overlay devices and entries (real netns, bridges, vxlan)', () => {
  const log = createLogger({ service: 'test', level: 'silent' });
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const ok = (cmd: string) => spawnSync('sh', ['-c', cmd], { stdio: 'ignore' }).status === 0;

  const UL = 'ddvxt-ul';
  const hosts = { h1: '10.251.0.11', h2: '10.251.0.12', h3: '10.251.0.13' } as const;
  type Host = keyof typeof hosts;
  const hns = (h: Host) => `ddvxt-${h}`;
  const NET_A = 'a'.repeat(64);
  const NET_B = 'b'.repeat(64);
  const NET_C = 'c'.repeat(64);
  const nets = {
    [NET_A]: { vni: 4097, bridge: 'ddbr-a', gw: '10.252.0.1/24' },
    [NET_B]: { vni: 4098, bridge: 'ddbr-b', gw: '' },
    [NET_C]: { vni: 4099, bridge: 'ddbr-c', gw: '' },
  };
  interface Ctr {
    ns: string;
    host: Host;
    net: string;
    ip: string;
    mac: string;
  }
  const ctr = (name: string, host: Host, net: string, last: number): Ctr => ({ ns: `ddvxt-${name}`, host, net, ip: `10.252.0.${last}`, mac: `02:dd:00:00:00:${last.toString(16).padStart(2, '0')}` });
  const c = {
    h1c1: ctr('h1c1', 'h1', NET_A, 11),
    h1c2: ctr('h1c2', 'h1', NET_A, 12),
    h2c1: ctr('h2c1', 'h2', NET_A, 21),
    h2c2: ctr('h2c2', 'h2', NET_A, 22),
    h3c1: ctr('h3c1', 'h3', NET_A, 31),
    h1b1: ctr('h1b1', 'h1', NET_B, 111),
    h2b1: ctr('h2b1', 'h2', NET_B, 121),
  };
  const peer = (x: Ctr): VxlanPeer => ({ ip: x.ip, mac: x.mac, vtep: hosts[x.host] });
  const vx = (h: Host) => new VxlanNet(log, { netns: hns(h) });
  const allNs = () => [UL, ...Object.keys(hosts).map((h) => hns(h as Host)), ...Object.values(c).map((x) => x.ns)];

  const ping = (from: Ctr, to: string, size?: number) => ok(`ip netns exec ${from.ns} busybox ping -c1 -W1 ${size ? `-s ${size}` : ''} ${to}`);
  const link = (ns: string, dev: string) => JSON.parse(sh(`ip -n ${ns} -d -j link show dev ${dev}`))[0];
  /** UDP 4789 packets a host received (an iptables counter in its namespace). */
  const vxlanRx = (h: Host) => Number(/^\s*(\d+)\s.*udp dpt:4789/m.exec(sh(`ip netns exec ${hns(h)} iptables -w -nvxL INPUT`))![1]);

  const cleanup = () => {
    for (const ns of allNs()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };

  beforeAll(async () => {
    for (const tool of ['ip', 'bridge', 'busybox', 'iptables']) {
      if (!ok(`command -v ${tool}`)) throw new Error(`${tool} is needed for this test`);
    }
    cleanup();
    for (const ns of allNs()) {
      sh(`ip netns add ${ns} && ip -n ${ns} link set lo up`);
      sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    }
    sh(`ip -n ${UL} link add ul type bridge && ip -n ${UL} link set ul up`);
    for (const [h, addr] of Object.entries(hosts) as [Host, string][]) {
      const ns = hns(h);
      sh(`ip -n ${UL} link add u-${h} type veth peer name eth0 netns ${ns} && ip -n ${UL} link set u-${h} master ul up`);
      sh(`ip -n ${ns} addr add ${addr}/24 dev eth0 && ip -n ${ns} link set eth0 up`);
      sh(`ip netns exec ${ns} iptables -w -A INPUT -p udp --dport 4789 -j ACCEPT`);
    }
    const made = new Set<string>();
    const bridgeOn = (h: Host, net: string) => {
      const n = nets[net];
      if (made.has(`${h}/${net}`)) return;
      made.add(`${h}/${net}`);
      sh(`ip -n ${hns(h)} link add ${n.bridge} type bridge && ip -n ${hns(h)} link set ${n.bridge} up`);
      if (n.gw) sh(`ip -n ${hns(h)} addr add ${n.gw} dev ${n.bridge}`);
    };
    for (const x of Object.values(c)) {
      bridgeOn(x.host, x.net);
      const hn = hns(x.host);
      const v = `v-${x.ns.slice(6)}`;
      sh(`ip -n ${hn} link add ${v} mtu ${OVERLAY_MTU} type veth peer name eth0 netns ${x.ns}`);
      sh(`ip -n ${hn} link set ${v} master ${nets[x.net].bridge} up`);
      sh(`ip -n ${x.ns} link set eth0 address ${x.mac} mtu ${OVERLAY_MTU} up && ip -n ${x.ns} addr add ${x.ip}/24 dev eth0`);
      if (x.net === NET_A) sh(`ip -n ${x.ns} route add default via 10.252.0.1`);
    }
    // the overlay devices, as the supervisor makes them after its bridge
    for (const h of ['h1', 'h2', 'h3'] as Host[]) await vx(h).ensure({ netId: NET_A, vni: nets[NET_A].vni, bridge: nets[NET_A].bridge, local: hosts[h] });
    for (const h of ['h1', 'h2'] as Host[]) await vx(h).ensure({ netId: NET_B, vni: nets[NET_B].vni, bridge: nets[NET_B].bridge, local: hosts[h] });
  }, 60000);

  afterAll(() => {
    cleanup();
    const left = sh('ip netns list').split('\n').filter((l) => l.startsWith('ddvxt-'));
    expect(left).toEqual([]);
  });

  it('makes the device as asked: VNI, port 4789, local, nolearning, proxy, MTU 1450, alias, in the bridge, up; bridge MTU 1450', () => {
    const dev = vxlanName(4097, NET_A);
    expect(dev).toBe('vx-001001-aaaaa');
    const l = link(hns('h1'), dev);
    expect(l.linkinfo.info_data).toMatchObject({ id: 4097, port: 4789, local: '10.251.0.11', learning: false, proxy: true });
    expect(l.linkinfo.info_data.group).toBeUndefined();
    expect(l).toMatchObject({ mtu: 1450, ifalias: `drydock-ovl:${NET_A}`, master: 'ddbr-a' });
    expect(l.flags).toContain('UP');
    expect(link(hns('h1'), 'ddbr-a').mtu).toBe(1450);
  });

  it('containers on one host reach each other without any entry; across hosts only once programmed', async () => {
    expect(ping(c.h1c1, c.h1c2.ip)).toBe(true);
    expect(ping(c.h1c1, c.h2c1.ip)).toBe(false);
    await vx('h1').sync(NET_A, [peer(c.h2c1), peer(c.h2c2)]);
    await vx('h2').sync(NET_A, [peer(c.h1c1), peer(c.h1c2)]);
    expect(ping(c.h1c1, c.h2c1.ip)).toBe(true);
    expect(ping(c.h2c2, c.h1c2.ip)).toBe(true);
    expect(ping(c.h2c1, c.h1c1.ip)).toBe(true);
    // each container's gateway is its own host's bridge (same address on every host)
    expect(ping(c.h1c1, '10.252.0.1')).toBe(true);
    expect(ping(c.h2c1, '10.252.0.1')).toBe(true);
    const gwMac = (x: Ctr) => JSON.parse(sh(`ip -n ${x.ns} -j neigh show 10.252.0.1`))[0]?.lladdr;
    expect(gwMac(c.h1c1)).toBe(link(hns('h1'), 'ddbr-a').address);
    expect(gwMac(c.h2c1)).toBe(link(hns('h2'), 'ddbr-a').address);
    // the device answered ARP for the remote address itself: the container knows the remote MAC
    expect(JSON.parse(sh(`ip -n ${c.h1c1.ns} -j neigh show ${c.h2c1.ip}`))[0]?.lladdr).toBe(c.h2c1.mac);
  });

  it('the same gateway address on every node: a node reaches its own containers, not remote ones, from it', () => {
    // the device answers the node's ARP for the remote container, but the reply goes to 10.252.0.1 on
    // the container's own node, which never sent the request
    expect(ok(`ip netns exec ${hns('h1')} busybox ping -c1 -W1 ${c.h1c1.ip}`)).toBe(true);
    expect(ok(`ip netns exec ${hns('h1')} busybox ping -c1 -W1 ${c.h2c1.ip}`)).toBe(false);
    expect(JSON.parse(sh(`ip -n ${hns('h1')} -j neigh show ${c.h2c1.ip}`))[0]?.lladdr).toBe(c.h2c1.mac);
  });

  it('carries full 1450-byte container packets, and no larger frame passes the device', () => {
    expect(ping(c.h1c1, c.h2c1.ip, 1422)).toBe(true);
    expect(ping(c.h2c1, c.h1c1.ip, 1422)).toBe(true);
    // a container with MTU 1500 behind the same bridge: its 1500-byte packets stop at the 1450 device
    sh(`ip -n ${c.h1c2.ns} link set eth0 mtu 1500 && ip -n ${hns('h1')} link set v-h1c2 mtu 1500`);
    try {
      expect(ping(c.h1c2, c.h2c1.ip, 1472)).toBe(false);
      expect(ping(c.h1c2, c.h2c1.ip, 1422)).toBe(true);
    } finally {
      sh(`ip -n ${c.h1c2.ns} link set eth0 mtu 1450 && ip -n ${hns('h1')} link set v-h1c2 mtu 1450`);
    }
  });

  it('sends nothing to a host for ARP, broadcasts or unknown destinations', () => {
    const before = { h2: vxlanRx('h2'), h3: vxlanRx('h3') };
    // h3's container is not programmed on h1: ARP for it is answered by no one and sent nowhere
    expect(ping(c.h1c1, c.h3c1.ip)).toBe(false);
    expect(ok(`ip netns exec ${c.h1c1.ns} busybox arping -c1 -w1 -I eth0 10.252.0.99`)).toBe(false);
    // a frame to an unknown MAC (a static neighbour in the container) has no FDB entry: dropped
    sh(`ip -n ${c.h1c1.ns} neigh replace 10.252.0.99 lladdr 02:dd:00:00:00:99 dev eth0 nud permanent`);
    expect(ping(c.h1c1, '10.252.0.99')).toBe(false);
    expect({ h2: vxlanRx('h2'), h3: vxlanRx('h3') }).toEqual(before);
    // the counter does count: a programmed peer's traffic arrives
    expect(ping(c.h1c1, c.h2c1.ip)).toBe(true);
    expect(vxlanRx('h2')).toBeGreaterThan(before.h2);
    expect(vxlanRx('h3')).toBe(before.h3);
  });

  it('would flood with an all-zeros FDB entry (never programmed; sync removes it)', async () => {
    const dev = vxlanName(4097, NET_A);
    const before = vxlanRx('h3');
    sh(`bridge -n ${hns('h1')} fdb append 00:00:00:00:00:00 dev ${dev} dst ${hosts.h3} self permanent`);
    expect(ping(c.h1c1, '10.252.0.99')).toBe(false);
    expect(vxlanRx('h3')).toBeGreaterThan(before);
    expect((await vx('h1').sync(NET_A, [peer(c.h2c1), peer(c.h2c2)])).changed).toBe(1);
    const mid = vxlanRx('h3');
    expect(ping(c.h1c1, '10.252.0.99')).toBe(false);
    expect(vxlanRx('h3')).toBe(mid);
    sh(`ip -n ${c.h1c1.ns} neigh del 10.252.0.99 dev eth0`);
  });

  it('keeps another VNI apart, even with an entry pointing into it', async () => {
    await vx('h1').sync(NET_B, [peer(c.h2b1)]);
    await vx('h2').sync(NET_B, [peer(c.h1b1)]);
    expect(ping(c.h1b1, c.h2b1.ip)).toBe(true);
    expect(ping(c.h2b1, c.h1b1.ip)).toBe(true);
    expect(ping(c.h1c1, c.h2b1.ip)).toBe(false);
    // mis-programmed on purpose: network A's device sends B's container's MAC to h2 on VNI 4097,
    // where A's bridge has no such port
    await vx('h1').add(NET_A, [peer(c.h2b1)]);
    expect(ping(c.h1c1, c.h2b1.ip)).toBe(false);
    await vx('h1').removeEntries(NET_A, [peer(c.h2b1)]);
  });

  it('removeEntries breaks reachability of those peers only; add restores it', async () => {
    const dev = vxlanName(4097, NET_A);
    expect([...(await vx('h1').entries(dev)).learned].sort()).toEqual([c.h2c1.mac, c.h2c2.mac]);
    await vx('h1').removeEntries(NET_A, [peer(c.h2c1)]);
    const e = await vx('h1').entries(dev);
    expect([...e.neigh.keys()]).toEqual([c.h2c2.ip]);
    expect([...e.fdb.keys()]).toEqual([c.h2c2.mac]);
    // what the bridge had learned for it on the port is gone too
    expect([...e.learned]).toEqual([c.h2c2.mac]);
    // the container still knows the MAC: only the missing FDB entry stops it
    expect(ping(c.h1c1, c.h2c1.ip)).toBe(false);
    expect(ping(c.h1c1, c.h2c2.ip)).toBe(true);
    await vx('h1').add(NET_A, [peer(c.h2c1)]);
    expect(ping(c.h1c1, c.h2c1.ip)).toBe(true);
    // removing what is not there is no error
    await vx('h1').removeEntries(NET_A, [peer(c.h3c1)]);
  });

  it('a new instance (a restarted supervisor) finds its devices by alias and converges with one sync', async () => {
    // left behind: a stale peer, and a peer whose node moved
    await vx('h1').add(NET_A, [{ ip: '10.252.0.77', mac: '02:dd:00:00:00:77', vtep: hosts.h3 }, { ...peer(c.h2c2), vtep: hosts.h3 }]);
    expect(ping(c.h1c1, c.h2c2.ip)).toBe(false);
    const fresh = vx('h1');
    expect((await fresh.devices()).sort((a, b) => a.vni - b.vni)).toEqual([
      { name: vxlanName(4097, NET_A), netId: NET_A, vni: 4097 },
      { name: vxlanName(4098, NET_B), netId: NET_B, vni: 4098 },
    ]);
    const want = [peer(c.h2c1), peer(c.h2c2)];
    expect((await fresh.sync(NET_A, want)).changed).toBe(3); // .77's neighbour and FDB entries gone, h2c2's FDB entry replaced
    const e = await fresh.entries(vxlanName(4097, NET_A));
    expect(Object.fromEntries(e.neigh)).toEqual({ [c.h2c1.ip]: c.h2c1.mac, [c.h2c2.ip]: c.h2c2.mac });
    expect(Object.fromEntries(e.fdb)).toEqual({ [c.h2c1.mac]: [hosts.h2], [c.h2c2.mac]: [hosts.h2] });
    expect((await fresh.sync(NET_A, want)).changed).toBe(0);
    expect(ping(c.h1c1, c.h2c2.ip)).toBe(true);
    expect(ping(c.h2c2, c.h1c1.ip)).toBe(true);
  });

  it('ensure is idempotent, replaces a device of other parameters, and remove takes it away', async () => {
    const v = vx('h1');
    sh(`ip -n ${hns('h1')} link add ${nets[NET_C].bridge} type bridge`);
    const want = { netId: NET_C, vni: 4099, bridge: nets[NET_C].bridge, local: hosts.h1 };
    const dev = await v.ensure(want);
    const first = link(hns('h1'), dev).ifindex;
    await v.add(NET_C, [peer(c.h2c1)]);
    expect(await v.ensure(want)).toBe(dev);
    expect(link(hns('h1'), dev).ifindex).toBe(first);
    expect((await v.entries(dev)).neigh.size).toBe(1);
    // another local: replaced (a new device, entries gone), still in the bridge
    await v.ensure({ ...want, local: '10.251.0.99' });
    const l = link(hns('h1'), dev);
    expect(l.ifindex).not.toBe(first);
    expect(l.linkinfo.info_data.local).toBe('10.251.0.99');
    expect(l.master).toBe(nets[NET_C].bridge);
    expect((await v.entries(dev)).neigh.size).toBe(0);
    // the same network at another VNI: the old device goes
    const dev2 = await v.ensure({ ...want, vni: 4100 });
    expect(ok(`ip -n ${hns('h1')} link show dev ${dev}`)).toBe(false);
    expect(dev2).toBe(vxlanName(4100, NET_C));
    await v.remove(NET_C);
    expect(ok(`ip -n ${hns('h1')} link show dev ${dev2}`)).toBe(false);
    expect((await v.devices()).map((d) => d.netId).sort()).toEqual([NET_A, NET_B]);
    await v.remove(NET_C); // twice: nothing to do
  });

  it("lists the VNIs foreign devices hold on port 4789 (an automatic pick skips them), and refuses one for ours", async () => {
    const ns = hns('h3');
    sh(`ip -n ${ns} link add ddfx0 type vxlan id 4096 dstport 4789 local ${hosts.h3} nolearning`);
    sh(`ip -n ${ns} link add ddfx1 type vxlan id 4200 dstport 8472 local ${hosts.h3}`);
    try {
      const v = vx('h3');
      const foreign = await v.foreignVnis();
      expect(foreign).toContain(4096);
      // another port, and our own devices, hold nothing for us
      expect(foreign).not.toContain(4200);
      expect(foreign).not.toContain(nets[NET_A].vni);
      await expect(v.ensure({ netId: 'f'.repeat(64), vni: 4096, bridge: nets[NET_A].bridge, local: hosts.h3 })).rejects.toThrow('vxlan id 4096 is in use by device ddfx0 on this node');
    } finally {
      sh(`ip -n ${ns} link del ddfx0; ip -n ${ns} link del ddfx1`);
    }
  });

  it('programs 1,000 peers with a few processes (rates printed)', async () => {
    const v = vx('h1');
    const want = { netId: NET_C, vni: 4099, bridge: nets[NET_C].bridge, local: hosts.h1 };
    const dev = await v.ensure(want);
    const many = (vtepOf: (i: number) => string): VxlanPeer[] =>
      Array.from({ length: 1000 }, (_, i) => ({ ip: `10.254.${i >> 8}.${(i & 255) + 0}`, mac: `02:ee:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, vtep: vtepOf(i) }));
    const rows: string[] = [];
    const timed = async (what: string, entries: number, f: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await f();
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      rows.push(`${what}: ${entries} entries in ${ms.toFixed(0)} ms = ${Math.round((entries / ms) * 1000)} entries/s`);
    };
    const a = many((i) => (i % 2 ? hosts.h2 : hosts.h3));
    await timed('sync 1000 new peers (neigh+fdb)', 2000, () => v.sync(NET_C, a));
    let e = await v.entries(dev);
    expect([e.neigh.size, e.fdb.size]).toEqual([1000, 1000]);
    const b = many((i) => (i < 500 ? hosts.h2 : hosts.h3));
    await timed('sync with 500 peers moved (fdb replace)', 500, async () => expect((await v.sync(NET_C, b)).changed).toBeGreaterThan(0));
    e = await v.entries(dev);
    expect(e.fdb.get('02:ee:00:00:01:f2')).toEqual([hosts.h2]); // i = 498: h3 -> h2
    expect(e.fdb.get('02:ee:00:00:01:f5')).toEqual([hosts.h3]); // i = 501: h2 -> h3
    await timed('sync of 1000 unchanged peers (read only)', 2000, async () => expect((await v.sync(NET_C, b)).changed).toBe(0));
    await timed('removeEntries 1000 peers', 2000, () => v.removeEntries(NET_C, b));
    e = await v.entries(dev);
    expect([e.neigh.size, e.fdb.size]).toEqual([0, 0]);
    await timed('add 1000 peers', 2000, () => v.add(NET_C, b));
    e = await v.entries(dev);
    expect([e.neigh.size, e.fdb.size]).toEqual([1000, 1000]);
    await timed('sync to no peers', 2000, () => v.sync(NET_C, []));
    await v.remove(NET_C);
    process.stdout.write(`vxlan entry rates:\n  ${rows.join('\n  ')}\n`);
  });
});
