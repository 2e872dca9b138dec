import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connect, type KV, type NatsConnection } from 'nats';
import { schedulerV1 } from '@drydock/proto';
import { createLogger } from '@drydock/logging';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { loadSchedulerConfig } from '../src/config';
import { startScheduler, type RunningScheduler } from '../src/server';

const GiB = 1024 * 1024 * 1024;
const logger = createLogger({ service: 'scheduler-test', level: 'silent' });

type Client = InstanceType<typeof schedulerV1.SchedulerClient>;
function call<Req, Res>(c: Client, method: 'place' | 'listNodes' | 'drainNode', req: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    (c[method] as unknown as (r: Req, cb: (e: ServiceError | null, r: Res) => void) => void).call(c, req, (e, r) => (e ? reject(e) : resolve(r))),
  );
}
const place = (c: Client, req: schedulerV1.PlaceRequest) => call<schedulerV1.PlaceRequest, schedulerV1.PlaceResponse>(c, 'place', req);
const listNodes = (c: Client) => call<schedulerV1.ListNodesRequest, schedulerV1.ListNodesResponse>(c, 'listNodes', {});
const drain = (c: Client, node: string, d: boolean) => call<schedulerV1.DrainNodeRequest, schedulerV1.DrainNodeResponse>(c, 'drainNode', { node, drain: d });

/** A fake node beating into the nodes bucket as a supervisor does (heartbeat.ts's NodeHeartbeat). */
class FakeNode {
  private timer?: NodeJS.Timeout;
  lastBeat = 0;
  constructor(
    private readonly kv: KV,
    readonly id: string,
    readonly name: string,
    private readonly shape: { cpus: number; memoryBytes: number; labels?: Record<string, string> },
  ) {}
  async beat(): Promise<void> {
    this.lastBeat = Date.now();
    await this.kv.put(
      this.id,
      JSON.stringify({
        nodeId: this.id,
        name: this.name,
        labels: this.shape.labels ?? {},
        engineLabels: { storagedriver: 'overlay2', kernelversion: '6.1.0', operatingsystem: 'Debian GNU/Linux 12 (bookworm)', ostype: 'linux' },
        cpus: this.shape.cpus,
        memoryBytes: this.shape.memoryBytes,
        cpuUsage: 0,
        memoryUsedBytes: 0,
        containers: { total: 0, running: 0, paused: 0, stopped: 0 },
        supervisorAddress: `${this.name}.local:7701`,
        time: this.lastBeat,
      }),
    );
  }
  async start(intervalMs = 1000): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), intervalMs);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

const req = (requestId: string, over: Partial<schedulerV1.PlaceRequest> = {}): schedulerV1.PlaceRequest => ({ requestId, env: [], labels: {}, ...over });
const until = async (f: () => Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${ms} ms`);
};

describe('scheduler against a real NATS', () => {
  let infra: TestInfra;
  let nc: NatsConnection;
  let nodesKv: KV;
  let directory: KV;
  const schedulers: RunningScheduler[] = [];
  const clients: Client[] = [];
  const fakes: FakeNode[] = [];

  const startOne = async () => {
    const s = await startScheduler(loadSchedulerConfig({ DRYDOCK_NATS_URL: infra.nats!.url, DRYDOCK_SCHEDULER_LISTEN: '127.0.0.1:0', DRYDOCK_LOG_LEVEL: 'silent' }), logger);
    schedulers.push(s);
    const c = new schedulerV1.SchedulerClient(`127.0.0.1:${s.port}`, credentials.createInsecure());
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    infra = await startTestInfra({ nats: true, name: 'scheduler' });
    nc = await connect({ servers: infra.nats!.url });
    const js = nc.jetstream();
    // as a supervisor opens it (heartbeat.ts)
    nodesKv = await js.views.kv('drydock_nodes', { ttl: 15000, history: 1 });
    const shapes: Array<{ id: string; name: string; cpus: number; memoryBytes: number; labels: Record<string, string> }> = [
      { id: '11111111-1111-4111-8111-111111111111', name: 'node1', cpus: 2, memoryBytes: 4 * GiB, labels: { region: 'us-east', disk: 'ssd' } },
      { id: '22222222-2222-4222-8222-222222222222', name: 'node2', cpus: 4, memoryBytes: 8 * GiB, labels: { region: 'eu-west' } },
      { id: '33333333-3333-4333-8333-333333333333', name: 'node3', cpus: 2, memoryBytes: 4 * GiB, labels: { region: 'us-west', disk: 'hdd' } },
    ];
    for (const s of shapes) {
      const f = new FakeNode(nodesKv, s.id, s.name, s);
      await f.start();
      fakes.push(f);
    }
    await startOne();
    await startOne();
    directory = await js.views.kv('drydock_containers');
  });

  afterAll(async () => {
    for (const f of fakes) f.stop();
    for (const c of clients) c.close();
    await Promise.all(schedulers.map((s) => s.close()));
    await nc?.close();
    await infra?.stop();
  });

  it('lists the nodes from their heartbeats', async () => {
    const nodes = (await listNodes(clients[0])).nodes ?? [];
    expect(nodes.map((n) => [n.name, n.status, n.drained, n.cpus, n.memoryBytes])).toEqual([
      ['node1', 'ready', false, 2, String(4 * GiB)],
      ['node2', 'ready', false, 4, String(8 * GiB)],
      ['node3', 'ready', false, 2, String(4 * GiB)],
    ]);
    expect(nodes[0].labels).toMatchObject({ region: 'us-east', storagedriver: 'overlay2', operatingsystem: 'Debian GNU/Linux 12 (bookworm)' });
  });

  it('places by constraint, strips the expressions and records the placement in the directory', async () => {
    const r = await place(clients[0], req('c-constraint', { name: 'web', image: 'nginx:1.25', env: ['A=1', 'constraint:region==us-*', 'constraint:disk==ssd', 'reschedule:on-node-failure'], memoryBytes: String(GiB) }));
    expect(r).toMatchObject({ nodeName: 'node1', supervisorAddress: 'node1.local:7701', env: ['A=1'], rescheduleOnNodeFailure: true });
    expect(r.labels!['com.docker.swarm.constraints']).toBe('["region==us-*","disk==ssd"]');
    const rec = (await directory.get(`node.${fakes[0].id}`))!.json<{ containers: Record<string, { name: string; memoryBytes: number }> }>();
    expect(rec.containers['c-constraint']).toMatchObject({ name: 'web', memoryBytes: GiB, reschedule: 'on-node-failure' });
    // the same request again, on the other scheduler: the same node, nothing reserved twice
    const again = await place(clients[1], req('c-constraint', { env: ['constraint:region==us-*'] }));
    expect(again.nodeId).toBe(fakes[0].id);
    const after = (await directory.get(`node.${fakes[0].id}`))!.json<{ containers: Record<string, unknown> }>();
    expect(Object.keys(after.containers)).toEqual(['c-constraint']);
  });

  it('follows affinities and label expressions, and names the conditions when nothing fits', async () => {
    const r = await place(clients[1], req('c-affinity', { labels: { 'com.docker.swarm.affinities': '["container==web"]' } }));
    expect(r.nodeName).toBe('node1');
    const err = await place(clients[0], req('c-nowhere', { env: ['affinity:container==web', 'constraint:region==eu-*'] })).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: 9, details: 'Unable to find a node that satisfies the following conditions \n[available container slots]\n[container==web (soft=false)]\n[region==eu-*]' });
    // nothing half-made: no claim is left for the failed request
    expect(await directory.get('req.c-nowhere')).toBeNull();
    const bad = await place(clients[0], req('c-bad', { env: ['constraint:node=node1'] })).catch((e: ServiceError) => e);
    expect(bad).toMatchObject({ code: 3, details: 'Unable to find a node that satisfies the following conditions \n[available container slots]\nerror from constraint filter: One of operator ==, != is expected' });
  });

  it('two schedulers placing racing requests never overcommit a node', async () => {
    // node3 holds 4 GiB (+5 %): 1 GiB reservations pinned to it fit four times, whoever places them
    const pinned = Array.from({ length: 12 }, (_, i) => req(`race-${i}`, { env: ['constraint:node==node3'], memoryBytes: String(GiB) }));
    const results = await Promise.allSettled(pinned.map((r, i) => place(clients[i % 2], r)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(4);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as ServiceError).details).toBe('no resources available to schedule container');
    const rec = (await directory.get(`node.${fakes[2].id}`))!.json<{ containers: Record<string, { memoryBytes: number }> }>();
    expect(Object.values(rec.containers).reduce((s, c) => s + c.memoryBytes, 0)).toBe(4 * GiB);
    // and one request raced on both schedulers lands once
    const [a, b] = await Promise.all([place(clients[0], req('twice', { memoryBytes: '1' })), place(clients[1], req('twice', { memoryBytes: '1' }))]);
    expect(a.nodeId).toBe(b.nodeId);
    let copies = 0;
    for (const f of fakes) copies += (await directory.get(`node.${f.id}`))?.json<{ containers: Record<string, unknown> }>().containers.twice ? 1 : 0;
    expect(copies).toBe(1);
  });

  it('spreads unconstrained placements over the nodes', async () => {
    // a burst on one scheduler: decided before any of them is committed, yet spread by the held reservations
    // (node1 has 2 containers, node2 1, node3 5): node2 first, then node1 and node2 in turn
    const placed = await Promise.all(Array.from({ length: 6 }, (_, i) => place(clients[0], req(`spread-${i}`))));
    const count = (n: string) => placed.filter((p) => p.nodeName === n).length;
    expect([count('node1'), count('node2'), count('node3')]).toEqual([3, 3, 0]);
  });

  it('a drained node gets no new placements', async () => {
    const d = await drain(clients[0], 'node2', true);
    expect(d.node).toMatchObject({ name: 'node2', drained: true });
    await until(async () => (await listNodes(clients[1])).nodes!.find((n) => n.name === 'node2')!.drained === true, 5000);
    const err = await place(clients[1], req('to-drained', { env: ['constraint:node==node2'] })).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: 9 });
    expect((err as ServiceError).details).toContain('[node==node2]');
    await drain(clients[1], 'node2', false);
    expect((await place(clients[0], req('to-active', { env: ['constraint:node==node2'] }))).nodeName).toBe('node2');
    const unknown = await drain(clients[0], 'node9', true).catch((e: ServiceError) => e);
    expect(unknown).toMatchObject({ code: 5, details: 'node node9 not found' });
  });

  it('marks a node down within 10 s of its last heartbeat and places nothing there', async () => {
    const f = fakes[1];
    f.stop();
    const last = f.lastBeat;
    await until(async () => (await listNodes(clients[0])).nodes!.find((n) => n.name === 'node2')?.status === 'down', 12000);
    expect(Date.now() - last).toBeLessThan(10000);
    const err = await place(clients[0], req('to-down', { env: ['constraint:node==node2'] })).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: 9 });
    // it comes back with its next beat
    await f.start();
    await until(async () => (await listNodes(clients[1])).nodes!.find((n) => n.name === 'node2')?.status === 'ready', 5000);
  });
});
