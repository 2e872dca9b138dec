/**
 * What every OverlayStore must do, for the stores' specs (file-overlay-store.spec.ts, and
 * test/overlay-store.int.spec.ts on a real NATS). `a` and `b` act as two nodes; a store of a
 * node alone passes itself as both.
 */
import type { CreateOverlayInput, LeaseOwner, OverlayEndpoint, OverlayStore } from './overlay-types';

export interface ContractStores {
  a: OverlayStore;
  b: OverlayStore;
  nodeA: string;
  nodeB: string;
  /** Waits until `check` holds (a watch of another store is asynchronous). */
  eventually(check: () => void | Promise<void>): Promise<void>;
  /** The addresses held on a network as the store's backing state has them now (not a cache). */
  heldOn(networkId: string): Promise<string[]>;
  /** The store runs its calls one at a time (a file store's lock): races are not raced. */
  serialized?: boolean;
  /**
   * What a remover that crashed between its mark and its delete leaves: the networks marked
   * 'removing' since `sinceMs` in the backing state, seen by both stores once it resolves (call
   * `stores()` again after it: a file store is started anew, as after the crash).
   */
  leaveRemoving(networkIds: string[], sinceMs: number): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let seq = 0;

/** A create input: the record (id from the name), pools empty unless a subnet is given. */
export function overlayInput(name: string, over: { subnet?: string; vni?: number; avoidVnis?: number[]; localSubnets?: string[]; pools?: string[]; node?: string } = {}): CreateOverlayInput {
  const id = `${name.replace(/[^a-z0-9]/gi, '')}${(++seq).toString().padStart(4, '0')}${'0'.repeat(48)}`.slice(0, 64);
  const pools = over.subnet ? [{ subnet: over.subnet, gateway: over.subnet.replace(/\.0\/\d+$/, '.1') }] : [];
  return {
    record: { id, name, driver: 'overlay', createdNs: '0', internal: false, attachable: true, enableIpv6: false, ipamDriver: 'default', ipamOptions: {}, pools, options: {}, labels: {}, builtin: false, icc: true, creatorNode: over.node ?? 'node-a' },
    vni: over.vni ?? 0,
    ...(over.avoidVnis ? { avoidVnis: over.avoidVnis } : {}),
    localSubnets: over.localSubnets ?? [],
    pools: over.pools ?? ['10.240.0.0/16:24'],
  };
}

export const owner = (nodeId: string, i: number | string): LeaseOwner => ({ nodeId, containerId: `c${i}`, endpointId: `e${i}` });

export function endpoint(networkId: string, ip: string, o: LeaseOwner): OverlayEndpoint {
  return { networkId, endpointId: o.endpointId, containerId: o.containerId, containerName: o.containerId, aliases: [o.containerId], ip, prefix: 24, mac: '02:42:00:00:00:01', nodeId: o.nodeId, nodeName: o.nodeId, vtep: '192.0.2.1' };
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
  return 'no error';
}

/** The contract's tests; `stores()` is read inside each test (made in the caller's beforeAll). */
export function overlayStoreContract(stores: () => ContractStores): void {
  it('creates networks, refuses a taken name, an overlapping subnet and a taken VNI, and picks free pools', async () => {
    const { a, b, eventually } = stores();
    const web = await a.createNetwork(overlayInput('web', { subnet: '10.241.0.0/24', vni: 7001 }));
    expect(web).toMatchObject({ state: 'ready', vni: 7001, pools: [{ subnet: '10.241.0.0/24', gateway: '10.241.0.1' }] });
    expect(a.networks().map((n) => n.id)).toContain(web.id);
    await eventually(() => expect(b.networks().map((n) => n.id)).toContain(web.id));
    expect(await failure(b.createNetwork(overlayInput('web')))).toBe('ALREADY_EXISTS network with name web already exists');
    expect(await failure(b.createNetwork(overlayInput('web2', { subnet: '10.241.0.128/25' })))).toBe('PERMISSION_DENIED Pool overlaps with other one on this address space');
    expect(await failure(b.createNetwork(overlayInput('web2', { subnet: '10.242.0.0/24', localSubnets: ['10.242.0.0/16'] })))).toBe('PERMISSION_DENIED Pool overlaps with other one on this address space');
    expect(await failure(b.createNetwork(overlayInput('web2', { vni: 7001 })))).toMatch(/^INVALID_ARGUMENT vxlan id 7001 is already in use/);
    const auto = await b.createNetwork(overlayInput('auto', { pools: ['10.241.0.0/23:24'] }));
    expect(auto.pools[0]).toMatchObject({ subnet: '10.241.1.0/24', gateway: '10.241.1.1', auto: true });
    expect(await failure(a.createNetwork(overlayInput('none', { pools: ['10.241.0.0/23:24'] })))).toMatch(/^NOT_FOUND could not find an available, non-overlapping IPv4 address pool/);
  });

  it("skips the VNIs the creating node's foreign devices hold in an automatic pick, not in a wanted one", async () => {
    const { a } = stores();
    const first = await a.createNetwork(overlayInput('vnia'));
    // the two VNIs an automatic pick would take next
    const used = new Set(a.networks().map((n) => n.vni));
    const free: number[] = [];
    for (let v = first.vni + 1; free.length < 3; v++) if (!used.has(v)) free.push(v);
    const skipped = await a.createNetwork(overlayInput('vnib', { avoidVnis: free.slice(0, 2) }));
    expect(skipped.vni).toBe(free[2]);
    const next = free[0];
    const wanted = await a.createNetwork(overlayInput('vnic', { vni: next, avoidVnis: [next] }));
    expect(wanted.vni).toBe(next);
    for (const n of [first, skipped, wanted]) await a.removeNetwork(n.id);
  });

  it('leases distinct addresses to concurrent leases from both nodes and says when the subnet is full', async () => {
    const { a, b, nodeA, nodeB } = stores();
    const n = await a.createNetwork(overlayInput('many', { subnet: '10.243.0.0/24' }));
    const got = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? b.lease(n.id, '', owner(nodeB, `m${i}`)) : a.lease(n.id, '', owner(nodeA, `m${i}`)))));
    const ips = got.map((g) => g.ip);
    expect(new Set(ips).size).toBe(200);
    expect(ips).not.toContain('10.243.0.1');
    expect(got[0]).toMatchObject({ prefix: 24, gateway: '10.243.0.1' });
    // 253 hosts without the gateway
    await Promise.all(Array.from({ length: 53 }, (_, i) => a.lease(n.id, '', owner(nodeA, `f${i}`))));
    expect(await failure(b.lease(n.id, '', owner(nodeB, 'over')))).toBe(`INTERNAL no available IPv4 addresses on this network's address pools: many (${n.id})`);
    // a given-back address is handed again
    await a.release(n.id, ips[0], `em0`);
    expect((await b.lease(n.id, '', owner(nodeB, 'again'))).ip).toBe(ips[0]);
  });

  it('refuses a held requested address, and releases only for the holder', async () => {
    const { a, b, nodeA, nodeB } = stores();
    const n = await a.createNetwork(overlayInput('req', { subnet: '10.244.0.0/24' }));
    expect((await a.lease(n.id, '10.244.0.50', owner(nodeA, 'r1'))).ip).toBe('10.244.0.50');
    expect(await failure(b.lease(n.id, '10.244.0.50', owner(nodeB, 'r2')))).toBe('PERMISSION_DENIED Address already in use');
    expect(await failure(b.lease(n.id, '10.245.0.1', owner(nodeB, 'r2')))).toMatch(/^INVALID_ARGUMENT Invalid address 10.245.0.1/);
    await b.release(n.id, '10.244.0.50', 'er2');
    expect(await failure(b.lease(n.id, '10.244.0.50', owner(nodeB, 'r2')))).toBe('PERMISSION_DENIED Address already in use');
    await a.release(n.id, '10.244.0.50', 'er1');
    expect((await b.lease(n.id, '10.244.0.50', owner(nodeB, 'r2'))).ip).toBe('10.244.0.50');
    expect(await failure(a.lease('nosuchnet', '', owner(nodeA, 'x')))).toBe('NOT_FOUND network nosuchnet not found');
  });

  it("refuses to remove a network with a lease on another node in dockerd's words, and removes it once released", async () => {
    const { a, b, nodeB, eventually } = stores();
    const n = await a.createNetwork(overlayInput('busy', { subnet: '10.246.0.0/24' }));
    const l = await b.lease(n.id, '', owner(nodeB, 'busy'));
    expect(await failure(a.removeNetwork(n.id))).toBe(`PERMISSION_DENIED error while removing network: network busy id ${n.id} has active endpoints`);
    // the mark is undone: leases go on
    expect(a.networks().find((x) => x.id === n.id)?.state).toBe('ready');
    const l2 = await b.lease(n.id, '', owner(nodeB, 'busy2'));
    await b.release(n.id, l.ip, 'ebusy');
    await b.release(n.id, l2.ip, 'ebusy2');
    await a.removeNetwork(n.id);
    expect(a.networks().map((x) => x.id)).not.toContain(n.id);
    await eventually(() => expect(b.networks().map((x) => x.id)).not.toContain(n.id));
    expect(await failure(b.lease(n.id, '', owner(nodeB, 'late')))).toBe(`NOT_FOUND network ${n.id} not found`);
    expect(await failure(a.removeNetwork(n.id))).toBe(`NOT_FOUND network ${n.id} not found`);
  });

  it("recovers networks a crashed remover left 'removing': a later remove works, stale marks are settled by nodes at once", async () => {
    const s0 = stores();
    const { nodeB } = s0;
    const net = (name: string, third: number) => s0.a.createNetwork(overlayInput(name, { subnet: `10.239.${third}.0/24` }));
    const busy = await net('stuckbusy', 1);
    const idle = await net('stuckidle', 2);
    const recent = await net('stuckrecent', 3);
    const later = await net('stucklater', 4);
    const held = await s0.b.lease(busy.id, '', owner(nodeB, 'stuck1'));
    const long = Date.now() - 60000;
    await s0.leaveRemoving([busy.id, idle.id, later.id], long);
    await s0.leaveRemoving([recent.id], Date.now());
    const { a, b, eventually } = stores();
    const stateOf = (s: OverlayStore, id: string) => s.networks().find((x) => x.id === id)?.state ?? 'gone';
    // stuck: every lease is refused
    expect(await failure(b.lease(busy.id, '', owner(nodeB, 'stuck2')))).toBe(`NOT_FOUND network ${busy.id} not found`);
    // a later remove of a stuck network works
    await a.removeNetwork(later.id);
    expect(stateOf(a, later.id)).toBe('gone');
    // both nodes settle the stale marks at once: the one with a lease back to ready, the other deleted, the recent mark left
    const [ra, rb] = await Promise.all([a.recoverRemoving(30000), b.recoverRemoving(30000)]);
    expect([...new Set([...ra.reverted, ...rb.reverted])]).toEqual([busy.id]);
    expect([...new Set([...ra.removed, ...rb.removed])]).toEqual([idle.id]);
    for (const s of [a, b]) {
      await eventually(() => expect([stateOf(s, busy.id), stateOf(s, idle.id), stateOf(s, recent.id)]).toEqual(['ready', 'gone', 'removing']));
    }
    expect(a.networks().find((x) => x.id === busy.id)?.removingSince).toBeUndefined();
    const l2 = await b.lease(busy.id, '', owner(nodeB, 'stuck3'));
    // a stuck network with leases: the remove refuses in dockerd's words and undoes the mark
    await stores().leaveRemoving([busy.id], long);
    const c = stores();
    expect(await failure(c.a.removeNetwork(busy.id))).toBe(`PERMISSION_DENIED error while removing network: network stuckbusy id ${busy.id} has active endpoints`);
    expect(stateOf(c.a, busy.id)).toBe('ready');
    await c.b.release(busy.id, held.ip, 'estuck1');
    await c.b.release(busy.id, l2.ip, 'estuck3');
    await c.a.removeNetwork(busy.id);
    // a mark younger than the limit is left alone (a remove may be at work); past it, settled
    expect(await c.a.recoverRemoving(30000)).toEqual({ reverted: [], removed: [] });
    expect(await c.a.recoverRemoving(0)).toEqual({ reverted: [], removed: [recent.id] });
  });

  it('never leaves a lease on a network removed while leases race it', async () => {
    const { a, b, nodeA, nodeB, heldOn, serialized } = stores();
    const outcomes = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const n = await a.createNetwork(overlayInput(`race${round}`, { subnet: `10.247.${round}.0/24` }));
      // the remove at 2 ms, leases spread over ~10 ms from a later start each round: early rounds it loses, later ones it wins
      const leases = Array.from({ length: 10 }, (_, i) =>
        sleep(round * 0.7 + i).then(() => (i % 2 ? a : b).lease(n.id, '', owner(i % 2 ? nodeA : nodeB, `x${round}-${i}`))).then((r) => ({ ok: true as const, ip: r.ip, i }), (err: Error) => ({ ok: false as const, err, i })),
      );
      const removed = sleep(2).then(() => a.removeNetwork(n.id)).then(() => true, () => false);
      const [results, gone] = await Promise.all([Promise.all(leases), removed]);
      outcomes.add(gone ? 'removed' : 'refused');
      if (gone) {
        // a lease that succeeded was in before the remove listed leases: the remove could not have succeeded
        expect(results.filter((r) => r.ok)).toEqual([]);
        for (const r of results) if (!r.ok) expect(r.err.message).toBe(`network ${n.id} not found`);
        expect(await heldOn(n.id)).toEqual([]);
      } else {
        for (const r of results) if (r.ok) await (r.i % 2 ? a : b).release(n.id, r.ip, `ex${round}-${r.i}`);
        await a.removeNetwork(n.id);
      }
      expect(a.networks().map((x) => x.id)).not.toContain(n.id);
    }
    // the rounds covered both endings (else the race was not raced); a store that runs one call at a time has no race
    if (!serialized) expect([...outcomes].sort()).toEqual(['refused', 'removed']);
  });

  it('publishes and withdraws endpoints (read-your-writes, seen by the other node with onChange), and lists a node\'s leases', async () => {
    const { a, b, nodeA, eventually } = stores();
    const n = await a.createNetwork(overlayInput('eps', { subnet: '10.248.0.0/24' }));
    const seen: string[] = [];
    b.onChange((c) => {
      if (c.kind === 'endpoint' && c.networkId === n.id) seen.push(`${c.endpoint ? 'put' : 'del'} ${c.endpointId}`);
      if (c.kind === 'network' && c.id === n.id) seen.push(`net ${c.network?.state ?? 'gone'}`);
    });
    const o = owner(nodeA, 'ep1');
    const l = await a.lease(n.id, '', o);
    await a.publish(endpoint(n.id, l.ip, o));
    expect(a.endpoints(n.id).map((e) => e.ip)).toEqual([l.ip]);
    await eventually(() => expect(b.endpoints(n.id).map((e) => e.endpointId)).toEqual(['eep1']));
    expect(b.endpoints().some((e) => e.endpointId === 'eep1')).toBe(true);
    expect((await a.leasesOf(nodeA)).filter((x) => x.networkId === n.id)).toEqual([{ networkId: n.id, ip: l.ip, owner: o }]);
    await eventually(async () => expect((await b.leasesOf(nodeA)).filter((x) => x.networkId === n.id)).toHaveLength(1));
    expect((await a.leasesOf('no-such-node')).filter((x) => x.networkId === n.id)).toEqual([]);
    await a.withdraw(n.id, 'eep1');
    expect(a.endpoints(n.id)).toEqual([]);
    await eventually(() => expect(b.endpoints(n.id)).toEqual([]));
    expect(seen).toContain('put eep1');
    expect(seen[seen.length - 1]).toBe('del eep1');
  });
}
