// The overlay networks' cluster state against a REAL nats-server: two KvOverlayStores (two
// node ids, two connections) on one bucket, as two supervisors share it.
import { connect, type KV, type NatsConnection } from 'nats';
import { createLogger } from '@drydock/logging';
import { encodeJson, getJson, mutateJson } from '@drydock/cluster';
import { parseIp } from '../src/networks/cidr';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { KvOverlayStore, openOverlayBucket, OVERLAY_BUCKET } from '../src/networks/overlay/kv-overlay-store';
import { overlayInput, overlayStoreContract, owner, type ContractStores } from '../src/networks/overlay/overlay-store.contract';
import type { OverlayTable } from '../src/networks/overlay/overlay-rules';

const logger = createLogger({ service: 'test', level: 'silent' });
let infra: TestInfra;
const conns: NatsConnection[] = [];
const stores: KvOverlayStore[] = [];
let kvA: KV;

async function nodeStore(nodeId: string): Promise<KvOverlayStore> {
  const nc = await connect({ servers: infra.nats!.url });
  conns.push(nc);
  const kv = await openOverlayBucket(nc, 1);
  kvA ??= kv;
  const s = new KvOverlayStore({ kv, nodeId, logger });
  await s.start();
  stores.push(s);
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => void | Promise<void>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

let a: KvOverlayStore;
let b: KvOverlayStore;

beforeAll(async () => {
  infra = await startTestInfra({ nats: true, name: 'ovstore' });
  a = await nodeStore('node-a');
  b = await nodeStore('node-b');
}, 60000);
afterAll(async () => {
  for (const s of stores) s.close();
  for (const nc of conns) await nc.close();
  await infra?.stop();
});

describe('KvOverlayStore', () => {
  const heldOn = async (networkId: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const k of await kvA.keys(`lease.${networkId}.>`)) out.push(k);
    return out;
  };
  // the mark as a remover writes it, then nothing (it crashed)
  const leaveRemoving = async (ids: string[], sinceMs: number): Promise<void> => {
    await mutateJson<OverlayTable>(kvA, 'networks', (t) => {
      const next = { ...t };
      for (const id of ids) next[id] = { ...next[id], state: 'removing', removingSince: sinceMs };
      return next;
    });
    const marked = (s: KvOverlayStore) => ids.every((id) => s.networks().find((x) => x.id === id)?.removingSince === sinceMs);
    await eventually(() => expect(marked(a) && marked(b)).toBe(true));
  };
  overlayStoreContract((): ContractStores => ({ a, b, nodeA: 'node-a', nodeB: 'node-b', eventually, heldOn, leaveRemoving }));

  it("refuses a subnet overlapping another node's published local subnets, not its own published ones", async () => {
    await b.publishLocalSubnets('node-b', ['10.250.0.0/24']);
    await a.publishLocalSubnets('node-a', ['10.250.1.0/24']);
    await eventually(async () => {
      const e = await a.createNetwork(overlayInput('probe', { subnet: '10.250.0.0/25' })).then(() => 'made', (err: Error) => err.message);
      expect(e).toBe('Pool overlaps with other one on this address space');
    });
    // its own are checked through the create's localSubnets (current), not the published (maybe stale) list
    const own = await a.createNetwork(overlayInput('own', { subnet: '10.250.1.0/24' }));
    expect(own.pools[0].subnet).toBe('10.250.1.0/24');
    // and a picked pool skips the other node's
    const picked = await a.createNetwork(overlayInput('pick', { pools: ['10.250.0.0/22:24'] }));
    expect(picked.pools[0].subnet).toBe('10.250.2.0/24');
  });

  it('keeps every network in one revision-checked table: two nodes racing for one name get one network', async () => {
    const results = await Promise.allSettled([a.createNetwork(overlayInput('dup', { node: 'node-a' })), b.createNetwork(overlayInput('dup', { node: 'node-b' }))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason.message).toBe('network with name dup already exists');
    const table = (await getJson<OverlayTable>(kvA, 'networks'))!.value;
    expect(Object.values(table).filter((n) => n.name === 'dup')).toHaveLength(1);
    const vnis = Object.values(table).map((n) => n.vni);
    expect(new Set(vnis).size).toBe(vnis.length);
  });

  it('gives back a lease whose create landed after a remove had listed the leases (the lease re-reads the state)', async () => {
    const n = await a.createNetwork(overlayInput('slow', { subnet: '10.252.0.0/24' }));
    // node c's lease keys reach the server 100 ms late: its lease passes the state check before the remove begins
    const slow = new Proxy(kvA, {
      get(t, p) {
        if (p === 'create') return async (k: string, v: Uint8Array) => (k.startsWith('lease.') && (await sleep(100)), t.create(k, v));
        const v = (t as unknown as Record<string | symbol, unknown>)[p];
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const c = new KvOverlayStore({ kv: slow, nodeId: 'node-c', logger });
    await c.start();
    stores.push(c);
    const leasing = c.lease(n.id, '', owner('node-c', 'slow1')).then(() => 'leased', (err: Error) => err.message);
    await sleep(20);
    await a.removeNetwork(n.id);
    expect(await leasing).toBe(`network ${n.id} not found`);
    const left: string[] = [];
    for await (const k of await kvA.keys(`lease.${n.id}.>`)) left.push(k);
    expect(left).toEqual([]);
  });

  it('a remove whose mark was settled by another node meanwhile (a lease in since) does not delete the network', async () => {
    const n = await a.createNetwork(overlayInput('settled', { subnet: '10.238.0.0/24' }));
    // node c's second write of the table (its delete, after it listed no lease) waits for the gate
    let writes = 0;
    let reached!: () => void;
    const atDelete = new Promise<void>((r) => (reached = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const gated = new Proxy(kvA, {
      get(t, p) {
        if (p === 'update')
          return async (k: string, v: Uint8Array, rev: number) => {
            if (k === 'networks' && ++writes === 2) (reached(), await gate);
            return t.update(k, v, rev);
          };
        const v = (t as unknown as Record<string | symbol, unknown>)[p];
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const c = new KvOverlayStore({ kv: gated, nodeId: 'node-c', logger });
    await c.start();
    stores.push(c);
    const removing = c.removeNetwork(n.id).then(() => 'removed', (err: Error) => err.message);
    await atDelete;
    // a lease whose create landed after c listed (in flight before the mark), then b judges the mark stale: back to ready
    expect(await b.lease(n.id, '', owner('node-b', 'st0')).then(() => 'leased', (err: Error) => err.message)).toBe(`network ${n.id} not found`);
    await kvA.create(`lease.${n.id}.${parseIp('10.238.0.9')}`, encodeJson(owner('node-b', 'st1')));
    expect(await b.recoverRemoving(0)).toEqual({ reverted: [n.id], removed: [] });
    open();
    expect(await removing).toBe(`error while removing network: network settled id ${n.id} has active endpoints`);
    const table = (await getJson<OverlayTable>(kvA, 'networks'))!.value;
    expect(table[n.id]?.state).toBe('ready');
  });

  it('a third store started later loads everything there is, leases included', async () => {
    const n = await a.createNetwork(overlayInput('late', { subnet: '10.251.0.0/24' }));
    const l = await b.lease(n.id, '', owner('node-b', 'late1'));
    const c = await nodeStore('node-c');
    expect(c.networks().map((x) => x.id)).toContain(n.id);
    expect((await c.leasesOf('node-b')).filter((x) => x.networkId === n.id)).toEqual([{ networkId: n.id, ip: l.ip, owner: owner('node-b', 'late1') }]);
    // and its leases skip the held address without a conflict round
    expect((await c.lease(n.id, '', owner('node-c', 'late2'))).ip).not.toBe(l.ip);
    expect(OVERLAY_BUCKET).toBe('drydock_overlay');
  });
});
