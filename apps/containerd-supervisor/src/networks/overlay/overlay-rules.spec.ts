import { parseIp } from '../cidr';
import { activeEndpoints, admitNetwork, leasable, nextAddress, overlapsOverlay, pickVni, withState, type OverlayTable } from './overlay-rules';
import type { CreateOverlayInput, OverlayNetworkRecord } from './overlay-types';

const POOLS = ['10.230.0.0/16:24'];

function input(id: string, name: string, over: Partial<CreateOverlayInput> & { subnet?: string; gateway?: string; ipRange?: string; aux?: Record<string, string> } = {}): CreateOverlayInput {
  const pools = over.subnet ? [{ subnet: over.subnet, gateway: over.gateway ?? over.subnet.replace(/\.0\/\d+$/, '.1'), ...(over.ipRange ? { ipRange: over.ipRange } : {}), ...(over.aux ? { auxAddresses: over.aux } : {}) }] : [];
  return {
    record: { id, name, driver: 'overlay', createdNs: '0', internal: false, attachable: true, enableIpv6: false, ipamDriver: 'default', ipamOptions: {}, pools, options: {}, labels: {}, builtin: false, icc: true, creatorNode: 'n1' },
    vni: over.vni ?? 0,
    ...(over.avoidVnis ? { avoidVnis: over.avoidVnis } : {}),
    localSubnets: over.localSubnets ?? [],
    pools: over.pools ?? POOLS,
  };
}

function add(t: OverlayTable, i: CreateOverlayInput, foreign: string[] = []): OverlayNetworkRecord {
  const n = admitNetwork(t, i, foreign);
  t[n.id] = n;
  return n;
}

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return `${(err as { code: string }).code} ${(err as Error).message}`;
  }
  return 'no error';
};

describe('admitNetwork', () => {
  it('picks the first free pool past overlays, local and foreign subnets, gateway its first address, VNIs from 4096', () => {
    const t: OverlayTable = {};
    const a = add(t, input('a', 'a'));
    expect(a).toMatchObject({ state: 'ready', vni: 4096, pools: [{ subnet: '10.230.0.0/24', gateway: '10.230.0.1', auto: true }] });
    const b = add(t, input('b', 'b', { localSubnets: ['10.230.1.0/25'] }), ['10.230.2.0/24']);
    expect(b.pools[0].subnet).toBe('10.230.3.0/24');
    expect(b.vni).toBe(4097);
  });

  it("refuses a taken name, an overlapping subnet (overlay, local, another node's) and a taken or invalid VNI in dockerd's words", () => {
    const t: OverlayTable = {};
    add(t, input('a', 'a', { subnet: '10.231.0.0/16', vni: 5000 }));
    expect(errorOf(() => admitNetwork(t, input('b', 'a'), []))).toBe('ALREADY_EXISTS network with name a already exists');
    const overlap = 'PERMISSION_DENIED Pool overlaps with other one on this address space';
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { subnet: '10.231.7.0/24' }), []))).toBe(overlap);
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { subnet: '10.232.0.0/24', localSubnets: ['10.232.0.128/25'] }), []))).toBe(overlap);
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { subnet: '10.232.0.0/24' }), ['10.0.0.0/8']))).toBe(overlap);
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { vni: 5000 }), []))).toMatch(/^INVALID_ARGUMENT vxlan id 5000 is already in use/);
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { vni: 16777216 }), []))).toMatch(/^INVALID_ARGUMENT invalid vxlan id value 16777216/);
    expect(errorOf(() => admitNetwork(t, input('b', 'b', { pools: ['10.231.0.0/16:24'] }), []))).toBe(
      'NOT_FOUND could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
    );
  });

  it('gives back the stored record when its create is repeated (a lost answer)', () => {
    const t: OverlayTable = {};
    const a = add(t, input('a', 'a'));
    expect(admitNetwork(t, input('a', 'a'), [])).toBe(a);
  });

  it("tells a node's bridge create whether its subnet overlaps an overlay", () => {
    const t: OverlayTable = {};
    add(t, input('a', 'a', { subnet: '10.235.0.0/24' }));
    expect(overlapsOverlay(t, '10.235.0.128/25')).toBe(true);
    expect(overlapsOverlay(t, '10.235.1.0/24')).toBe(false);
  });
});

describe('pickVni', () => {
  it('takes the lowest free from 4096 and a wanted one in 1..16777215', () => {
    const nets = [4096, 4098].map((vni) => ({ vni }) as OverlayNetworkRecord);
    expect(pickVni(nets, 0)).toBe(4097);
    expect(pickVni(nets, 1)).toBe(1);
    expect(() => pickVni(nets, -3)).toThrow(/invalid vxlan id/);
  });

  it("skips VNIs foreign devices hold in an automatic pick, not a wanted one (the kernel's error names the device)", () => {
    const nets = [4096].map((vni) => ({ vni }) as OverlayNetworkRecord);
    expect(pickVni(nets, 0, [4097, 4099])).toBe(4098);
    expect(pickVni(nets, 4097, [4097])).toBe(4097);
    const t: OverlayTable = {};
    expect(add(t, input('a', 'a', { avoidVnis: [4096, 4097] })).vni).toBe(4098);
    expect(add(t, input('b', 'b', { avoidVnis: [4096] })).vni).toBe(4097);
  });
});

describe('removing and leasing', () => {
  it('marks removing, refuses leases on a removing network, and words the in-use error as dockerd', () => {
    const t: OverlayTable = {};
    const a = add(t, input('a', 'web'));
    const r = withState(t, 'a', 'removing');
    expect(t.a.state).toBe('ready');
    expect(errorOf(() => leasable(r.a, 'a'))).toBe('NOT_FOUND network a not found');
    expect(errorOf(() => leasable(undefined, 'x'))).toBe('NOT_FOUND network x not found');
    expect(errorOf(() => withState(t, 'x', 'removing'))).toBe('NOT_FOUND network x not found');
    expect(activeEndpoints(a).message).toBe('error while removing network: network web id a has active endpoints');
  });

  it('hands the lowest free address of the range, skipping gateway, aux and held ones; requested ones as asked', () => {
    const t: OverlayTable = {};
    const n = add(t, input('a', 'a', { subnet: '10.233.0.0/29', aux: { host: '10.233.0.2' } }));
    const held = [parseIp('10.233.0.3')!];
    expect(nextAddress(n, held, '').ip).toBe('10.233.0.4');
    expect(nextAddress(n, held, '').n).toBe(parseIp('10.233.0.4'));
    expect(errorOf(() => nextAddress(n, held, '10.233.0.3'))).toBe('PERMISSION_DENIED Address already in use');
    expect(errorOf(() => nextAddress(n, held, '10.233.0.1'))).toBe('PERMISSION_DENIED Address already in use');
    expect(errorOf(() => nextAddress(n, held, '10.9.0.1'))).toMatch(/^INVALID_ARGUMENT Invalid address 10.9.0.1/);
    expect(nextAddress(n, held, '10.233.0.6')).toEqual({ ip: '10.233.0.6', prefix: 29, gateway: '10.233.0.1', n: parseIp('10.233.0.6') });
    const full = [3, 4, 5, 6].map((i) => parseIp(`10.233.0.${i}`)!);
    expect(errorOf(() => nextAddress(n, full, ''))).toBe("INTERNAL no available IPv4 addresses on this network's address pools: a (a)");
    const ranged = add(t, input('b', 'b', { subnet: '10.234.0.0/24', ipRange: '10.234.0.128/25' }));
    expect(nextAddress(ranged, [], '').ip).toBe('10.234.0.128');
  });
});
