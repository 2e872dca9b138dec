// The pure parts of VxlanNet: names, parsing iproute2's JSON (as iproute2 6.1 prints it),
// and the plans of commands. The kernel objects themselves: test/vxlan.int.spec.ts.
import { FailedPreconditionError, InvalidArgumentError } from '@drydock/errors';
import { foreignVnis, onlyMissingEntries, parseFdb, parseLearned, parseNeigh, parseVxlanLinks, planAdd, planEnsure, planRemove, planSync, vxlanAlias, vxlanName, type VxlanLink } from './vxlan';

const NET = 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';
const OTHER = '99cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

// `ip -d -j link show type vxlan`, trimmed
const LINKS = JSON.stringify([
  {
    ifindex: 3,
    ifname: 'vx-001001-abcde',
    ifalias: `drydock-ovl:${NET}`,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 1450,
    master: 'br-ov1',
    operstate: 'UNKNOWN',
    linkinfo: { info_kind: 'vxlan', info_data: { id: 4097, local: '10.251.0.11', port: 4789, learning: false, proxy: true, ttl: 0 } },
  },
  {
    ifindex: 4,
    ifname: 'flannel.1',
    flags: ['BROADCAST', 'MULTICAST'],
    mtu: 1500,
    linkinfo: { info_kind: 'vxlan', info_data: { id: 1, local: '10.251.0.11', port: 8472, learning: true } },
  },
]);

const link = (over: Partial<VxlanLink>): VxlanLink => ({
  name: 'vx-001001-abcde',
  alias: vxlanAlias(NET),
  vni: 4097,
  local: '10.251.0.11',
  port: 4789,
  learning: false,
  proxy: true,
  mtu: 1450,
  up: true,
  ...over,
});
const want = { netId: NET, vni: 4097, bridge: 'br-ov1', local: '10.251.0.11' };

describe('vxlanName', () => {
  it('is libnetwork\'s vx-<vni hex6>-<id5>, at most 15 characters', () => {
    expect(vxlanName(4097, NET)).toBe('vx-001001-abcde');
    expect(vxlanName(0xffffff, NET)).toBe('vx-ffffff-abcde');
    expect(vxlanName(0xffffff, NET).length).toBe(15);
  });
  it('refuses VNIs outside 1..16777215', () => {
    expect(() => vxlanName(0, NET)).toThrow(InvalidArgumentError);
    expect(() => vxlanName(0x1000000, NET)).toThrow(InvalidArgumentError);
    expect(() => vxlanName(1.5, NET)).toThrow(InvalidArgumentError);
  });
});

describe('parsing', () => {
  it('reads VXLAN links', () => {
    const ls = parseVxlanLinks(LINKS);
    expect(ls).toEqual([
      { name: 'vx-001001-abcde', alias: `drydock-ovl:${NET}`, vni: 4097, local: '10.251.0.11', port: 4789, learning: false, proxy: true, mtu: 1450, master: 'br-ov1', up: true },
      { name: 'flannel.1', alias: '', vni: 1, local: '10.251.0.11', port: 8472, learning: true, proxy: false, mtu: 1500, master: undefined, up: false },
    ]);
    expect(parseVxlanLinks('')).toEqual([]);
    // a non-vxlan link in the list (ip filters by type, but a caller may not)
    expect(parseVxlanLinks(JSON.stringify([{ ifname: 'br0', mtu: 1500, linkinfo: { info_kind: 'bridge' } }]))).toEqual([]);
  });

  it('reads permanent neighbours only', () => {
    const n = parseNeigh(
      JSON.stringify([
        { dst: '10.252.0.21', lladdr: '02:DD:00:00:00:21', state: ['PERMANENT'] },
        { dst: '10.252.0.22', lladdr: '02:dd:00:00:00:22', state: ['REACHABLE'] },
        { dst: '10.252.0.23', state: ['FAILED'] },
      ]),
    );
    expect([...n]).toEqual([['10.252.0.21', '02:dd:00:00:00:21']]);
  });

  it('reads the device\'s own FDB entries, not the bridge\'s for the port', () => {
    const f = parseFdb(
      JSON.stringify([
        { mac: '1a:81:82:8e:9b:bc', flags: [], master: 'br0', state: 'permanent' },
        { mac: '02:dd:00:00:00:21', flags: [], master: 'br0' },
        { mac: '02:dd:00:00:00:21', dst: '10.251.0.12', flags: ['self'], state: 'permanent' },
        { mac: '00:00:00:00:00:00', dst: '10.251.0.12', flags: ['self'], state: 'permanent' },
        { mac: '00:00:00:00:00:00', dst: '10.251.0.13', flags: ['self'], state: 'permanent' },
      ]),
    );
    expect([...f]).toEqual([
      ['02:dd:00:00:00:21', ['10.251.0.12']],
      ['00:00:00:00:00:00', ['10.251.0.12', '10.251.0.13']],
    ]);
  });

  it('reads the MACs the bridge learned on the port, not the port\'s own', () => {
    const l = parseLearned(
      JSON.stringify([
        { mac: '1a:81:82:8e:9b:bc', flags: [], master: 'br0', state: 'permanent' },
        { mac: '02:DD:00:00:00:21', flags: [], master: 'br0' },
        { mac: '02:dd:00:00:00:21', dst: '10.251.0.12', flags: ['self'], state: 'permanent' },
      ]),
    );
    expect([...l]).toEqual(['02:dd:00:00:00:21']);
  });
});

describe('planEnsure', () => {
  it('keeps a device of the same parameters', () => {
    expect(planEnsure([link({})], want)).toEqual({ remove: [], create: false });
  });
  it('makes a missing one', () => {
    expect(planEnsure([], want)).toEqual({ remove: [], create: true });
  });
  it('replaces one of the name with another local, alias or learning', () => {
    expect(planEnsure([link({ local: '10.251.0.99' })], want)).toEqual({ remove: ['vx-001001-abcde'], create: true });
    expect(planEnsure([link({ alias: vxlanAlias(OTHER.slice(0, 5) + NET.slice(5)) })], want).remove).toEqual(['vx-001001-abcde']);
    expect(planEnsure([link({ learning: true })], want).remove).toEqual(['vx-001001-abcde']);
    expect(planEnsure([link({ proxy: false })], want).remove).toEqual(['vx-001001-abcde']);
  });
  it('removes ours under another name: this network at another VNI, a gone network at this VNI', () => {
    expect(planEnsure([link({ name: 'vx-000fff-abcde', vni: 4095 })], want)).toEqual({ remove: ['vx-000fff-abcde'], create: true });
    expect(planEnsure([link({ name: 'vx-001001-99cde', alias: vxlanAlias(OTHER) })], want)).toEqual({ remove: ['vx-001001-99cde'], create: true });
    // another network of ours at another VNI stays
    expect(planEnsure([link({ name: 'vx-000002-99cde', alias: vxlanAlias(OTHER), vni: 2 })], want)).toEqual({ remove: [], create: true });
  });
  it('leaves another supervisor\'s device (on a bridge outside the prefix) and refuses its VNI', () => {
    const theirs = link({ name: 'vx-001001-99cde', alias: vxlanAlias(OTHER), master: 'xx-other' });
    expect(() => planEnsure([theirs], want, 'ov-')).toThrow(FailedPreconditionError);
    // on one of our bridges, or on none (its bridge went): ours
    expect(planEnsure([{ ...theirs, master: 'ov-123' }], want, 'ov-').remove).toEqual(['vx-001001-99cde']);
    expect(planEnsure([{ ...theirs, master: undefined }], want, 'ov-').remove).toEqual(['vx-001001-99cde']);
    // this network's own device is ours wherever it hangs
    expect(planEnsure([link({ name: 'vx-000fff-abcde', vni: 4095, master: 'xx-other' })], want, 'ov-').remove).toEqual(['vx-000fff-abcde']);
  });
  it('refuses when a foreign device holds the VNI on port 4789 (the kernel allows one)', () => {
    expect(() => planEnsure([link({ name: 'other0', alias: '' })], want)).toThrow(FailedPreconditionError);
    // on another port it does not clash
    expect(planEnsure([link({ name: 'other0', alias: '', port: 8472 })], want)).toEqual({ remove: [], create: true });
  });
});

describe('foreignVnis', () => {
  it("lists the VNIs of devices not ours on port 4789: no overlay alias, or another supervisor's bridge", () => {
    const links = [
      link({}),
      link({ name: 'other0', alias: '', vni: 4096 }),
      link({ name: 'other1', alias: '', vni: 4096 }),
      link({ name: 'flannel.1', alias: '', vni: 1, port: 8472 }),
      link({ name: 'vx-001002-99cde', alias: vxlanAlias(OTHER), vni: 4098, master: 'xx-other' }),
      link({ name: 'vx-001003-99cde', alias: vxlanAlias(OTHER), vni: 4099, master: undefined }),
    ];
    expect(foreignVnis(links, 'ov-')).toEqual([4096, 4098]);
    // without a prefix every aliased device is ours
    expect(foreignVnis(links)).toEqual([4096]);
  });
});

describe('peer plans', () => {
  const dev = 'vx-001001-abcde';
  const p = (n: number, vtep = '10.251.0.12') => ({ ip: `10.252.0.${n}`, mac: `02:dd:00:00:00:${n.toString(16).padStart(2, '0')}`, vtep });

  it('sync adds missing, replaces changed, removes extra, leaves equal ones; deletions last', () => {
    const current = {
      neigh: new Map([
        ['10.252.0.21', '02:dd:00:00:00:15'], // equal
        ['10.252.0.22', '02:dd:00:00:00:99'], // other MAC
        ['10.252.0.50', '02:dd:00:00:00:32'], // extra
      ]),
      fdb: new Map([
        ['02:dd:00:00:00:15', ['10.251.0.12']], // equal
        ['02:dd:00:00:00:16', ['10.251.0.13']], // other vtep
        ['02:dd:00:00:00:32', ['10.251.0.12']], // extra
        ['00:00:00:00:00:00', ['10.251.0.12', '10.251.0.13']], // a flood list: extra
      ]),
      learned: new Set(['02:dd:00:00:00:15', '02:dd:00:00:00:32']), // a wanted one stays, an extra one goes
    };
    const plan = planSync(dev, current, [p(21), p(22), p(23)]);
    expect(plan.neigh).toEqual([
      `neigh replace 10.252.0.22 lladdr 02:dd:00:00:00:16 dev ${dev} nud permanent`,
      `neigh replace 10.252.0.23 lladdr 02:dd:00:00:00:17 dev ${dev} nud permanent`,
      `neigh del 10.252.0.50 dev ${dev}`,
    ]);
    expect(plan.fdb).toEqual([
      `fdb replace 02:dd:00:00:00:16 dev ${dev} dst 10.251.0.12 self permanent`,
      `fdb replace 02:dd:00:00:00:17 dev ${dev} dst 10.251.0.12 self permanent`,
      `fdb del 02:dd:00:00:00:32 dev ${dev} self`,
      `fdb del 00:00:00:00:00:00 dev ${dev} self`,
      `fdb del 02:dd:00:00:00:32 dev ${dev} master`,
    ]);
    // converged: nothing to do
    const done = { neigh: new Map([p(21), p(22), p(23)].map((x) => [x.ip, x.mac])), fdb: new Map([p(21), p(22), p(23)].map((x) => [x.mac, [x.vtep]])), learned: new Set([p(21).mac]) };
    expect(planSync(dev, done, [p(21), p(22), p(23)])).toEqual({ neigh: [], fdb: [] });
  });

  it('sync starts a MAC with several destinations from none', () => {
    const plan = planSync(dev, { neigh: new Map(), fdb: new Map([['02:dd:00:00:00:15', ['10.251.0.12', '10.251.0.13']]]), learned: new Set() }, [p(21)]);
    expect(plan.fdb).toEqual([`fdb del 02:dd:00:00:00:15 dev ${dev} self`, `fdb replace 02:dd:00:00:00:15 dev ${dev} dst 10.251.0.12 self permanent`]);
  });

  it('add replaces whatever is there; MACs are lower-cased', () => {
    expect(planAdd(dev, [{ ip: '10.252.0.9', mac: '02:DD:00:00:00:09', vtep: '10.251.0.12' }])).toEqual({
      neigh: [`neigh replace 10.252.0.9 lladdr 02:dd:00:00:00:09 dev ${dev} nud permanent`],
      fdb: [`fdb replace 02:dd:00:00:00:09 dev ${dev} dst 10.251.0.12 self permanent`],
    });
  });

  it('removeEntries removes only what the kernel holds for those peers', () => {
    const current = {
      neigh: new Map([['10.252.0.21', '02:dd:00:00:00:15'], ['10.252.0.22', '02:dd:00:00:00:aa']]),
      fdb: new Map([['02:dd:00:00:00:15', ['10.251.0.12']]]),
      learned: new Set(['02:dd:00:00:00:15', '02:dd:00:00:00:aa']),
    };
    // .22 now belongs to another MAC (reassigned), .23 is not there at all
    expect(planRemove(dev, current, [p(21), p(22), p(23)])).toEqual({
      neigh: [`neigh del 10.252.0.21 dev ${dev}`],
      fdb: [`fdb del 02:dd:00:00:00:15 dev ${dev} self`, `fdb del 02:dd:00:00:00:15 dev ${dev} master`],
    });
  });

  it('refuses values that are no addresses (each is a line of a batch)', () => {
    expect(() => planAdd(dev, [{ ip: '10.252.0.9\nlink del br0', mac: '02:dd:00:00:00:09', vtep: '10.251.0.12' }])).toThrow(InvalidArgumentError);
    expect(() => planAdd(dev, [{ ip: '10.252.0.9', mac: '02:dd:00:00:00', vtep: '10.251.0.12' }])).toThrow(InvalidArgumentError);
    expect(() => planAdd(dev, [{ ip: '10.252.0.9', mac: '02:dd:00:00:00:09', vtep: '10.251.0.256' }])).toThrow(InvalidArgumentError);
  });
});

describe('onlyMissingEntries', () => {
  it('accepts a batch that failed only at entries already gone (bridge 6.1\'s -force output)', () => {
    expect(onlyMissingEntries('RTNETLINK answers: No such file or directory\nCommand failed -:2\n')).toBe(true);
    expect(onlyMissingEntries('RTNETLINK answers: No such file or directory\nCommand failed -:2\nRTNETLINK answers: No such file or directory\nCommand failed -:7\n')).toBe(true);
  });
  it('refuses any other failure', () => {
    expect(onlyMissingEntries('Cannot find device "vx-001001-abcde"\nCommand failed -:1\n')).toBe(false);
    expect(onlyMissingEntries('RTNETLINK answers: No such file or directory\nCommand failed -:2\nRTNETLINK answers: Invalid argument\nCommand failed -:3\n')).toBe(false);
    expect(onlyMissingEntries('')).toBe(false);
  });
});
