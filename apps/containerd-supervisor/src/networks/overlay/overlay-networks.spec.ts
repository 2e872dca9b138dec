import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import { makeTempDir } from '@drydock/testing';
import type { HostNet } from '../host-net';
import type { NetworkRecord } from '../network-record';
import { FileOverlayStore } from './file-overlay-store';
import { OverlayNetworks, type OverlayKernel } from './overlay-networks';
import type { OverlayTable } from './overlay-rules';
import { overlayInput } from './overlay-store.contract';

/** Kernel and host fakes that record how many calls for one network overlap. */
function fakes() {
  const inFlight = new Map<string, number>();
  const calls: string[] = [];
  let maxOverlap = 0;
  const step = async (what: string, netId: string) => {
    const n = (inFlight.get(netId) ?? 0) + 1;
    inFlight.set(netId, n);
    maxOverlap = Math.max(maxOverlap, n);
    calls.push(what);
    // a real ip/iptables call takes a while: let the other caller run meanwhile
    await new Promise((r) => setTimeout(r, 5));
    inFlight.set(netId, inFlight.get(netId)! - 1);
  };
  const kernel: OverlayKernel = {
    ensure: (o) => step('vxlan', o.netId),
    remove: (netId) => step('vxlan-del', netId),
    devices: async () => [],
    foreignVnis: async () => [],
    sync: async () => undefined,
  };
  const host = {
    createBridge: (_b: string, _a: string, id: string) => step('bridge', id),
    addRules: (r: { id: string }) => step('rules', r.id),
    removeRules: (id: string) => step('rules-del', id),
    bridges: async () => [],
    deleteBridge: async () => undefined,
  } as unknown as HostNet;
  return { kernel, host, calls, maxOverlap: () => maxOverlap };
}

describe('OverlayNetworks', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('ovnets');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('never makes or takes down one network\'s kernel objects twice at once (its own store write is seen as a change meanwhile)', async () => {
    const f = fakes();
    const records = new Map<string, NetworkRecord>();
    const mirror = {
      put: async (n: NetworkRecord) => void records.set(n.id, n),
      drop: async (n: NetworkRecord) => void records.delete(n.id),
      known: () => [...records.values()],
      hasLocalEndpoints: () => false,
    };
    const o = new OverlayNetworks(f.kernel, f.host, undefined, { nodeId: 'solo', nodeName: 'solo', vtep: '127.0.0.1', bridgePrefix: 'ov-', pools: ['10.9.0.0/16:24'] }, mirror, createLogger({ service: 'test', level: 'silent' }));
    const store = new FileOverlayStore(dir);
    await o.start(store, []);
    // as NetworkManager.createOverlay: the store write (its change event starts applying the record), then the kernel
    const input = overlayInput('one', { subnet: '10.9.1.0/24' });
    const rec = await store.createNetwork({ ...input, record: { ...input.record, bridge: o.bridgeName(input.record.id) } });
    await mirror.put(rec as unknown as NetworkRecord);
    await o.ensureKernel(rec);
    expect(f.calls.filter((c) => c === 'vxlan').length).toBeGreaterThanOrEqual(1);
    // as remove: the store's delete (a change event again), then the kernel
    await store.removeNetwork(rec.id);
    await o.destroyKernel(rec as unknown as NetworkRecord);
    await new Promise((r) => setTimeout(r, 50));
    expect(f.calls).toContain('vxlan-del');
    expect(f.maxOverlap()).toBe(1);
    expect(records.has(rec.id)).toBe(false);
    store.close();
  });

  it("settles at start the networks a crashed remove left 'removing' past the limit: ready with a lease, else gone", async () => {
    const sub = join(dir, 'stuck');
    const first = new FileOverlayStore(sub);
    await first.start();
    const busy = await first.createNetwork(overlayInput('stuckbusy', { subnet: '10.9.2.0/24' }));
    const idle = await first.createNetwork(overlayInput('stuckidle', { subnet: '10.9.3.0/24' }));
    const recent = await first.createNetwork(overlayInput('stuckrecent', { subnet: '10.9.4.0/24' }));
    await first.lease(busy.id, '', { nodeId: 'solo', containerId: 'c1', endpointId: 'e1' });
    // the marks as a remover writes them, then the crash
    const t = JSON.parse(await readFile(join(sub, 'networks.json'), 'utf8')) as OverlayTable;
    for (const id of [busy.id, idle.id]) t[id] = { ...t[id], state: 'removing', removingSince: Date.now() - 60000 };
    t[recent.id] = { ...t[recent.id], state: 'removing', removingSince: Date.now() };
    await writeFile(join(sub, 'networks.json'), JSON.stringify(t));
    const f = fakes();
    const records = new Map<string, NetworkRecord>();
    const mirror = { put: async (n: NetworkRecord) => void records.set(n.id, n), drop: async (n: NetworkRecord) => void records.delete(n.id), known: () => [...records.values()], hasLocalEndpoints: () => false };
    const o = new OverlayNetworks(f.kernel, f.host, undefined, { nodeId: 'solo', nodeName: 'solo', vtep: '127.0.0.1', bridgePrefix: 'ov-', pools: ['10.9.0.0/16:24'] }, mirror, createLogger({ service: 'test', level: 'silent' }));
    const store = new FileOverlayStore(sub);
    await o.start(store, []);
    o.close();
    const states = Object.fromEntries(store.networks().map((n) => [n.id, n.state]));
    expect(states).toEqual({ [busy.id]: 'ready', [recent.id]: 'removing' });
    // and leases go on where the lease holder is
    expect((await o.lease(busy.id, '', { containerId: 'c2', endpointId: 'e2' })).ip).toBe('10.9.2.3');
    store.close();
  });
});
