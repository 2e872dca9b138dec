import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connect, type KV, type NatsConnection } from 'nats';
import { schedulerV1 } from '@drydock/proto';
import { createLogger } from '@drydock/logging';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { loadSchedulerConfig } from '../src/config';
import { startScheduler, type RunningScheduler } from '../src/server';
import type { NodeRecord } from '@drydock/cluster';

const GiB = 1024 * 1024 * 1024;
const logger = createLogger({ service: 'reschedule-test', level: 'silent' });
type Client = InstanceType<typeof schedulerV1.SchedulerClient>;
const drain = (c: Client, node: string, d: boolean) =>
  new Promise<void>((resolve, reject) => c.drainNode({ node, drain: d }, (e: ServiceError | null) => (e ? reject(e) : resolve())));
const place = (c: Client, req: schedulerV1.PlaceRequest) =>
  new Promise<schedulerV1.PlaceResponse>((resolve, reject) => c.place(req, (e: ServiceError | null, r: schedulerV1.PlaceResponse) => (e ? reject(e) : resolve(r))));

/** Two schedulers with short down and sweep delays, three nodes; one node stops beating. */
describe('rescheduling on node failure', () => {
  let infra: TestInfra;
  let nc: NatsConnection;
  let nodesKv: KV;
  let directory: KV;
  const schedulers: RunningScheduler[] = [];
  const clients: Client[] = [];
  const nodes = ['r1', 'r2', 'r3'].map((name, i) => ({ id: `88888888-0000-4000-8000-00000000000${i + 1}`, name, beating: true }));
  let timer: NodeJS.Timeout | undefined;
  const beat = () =>
    Promise.all(
      nodes
        .filter((n) => n.beating)
        .map((n) =>
          nodesKv.put(n.id, JSON.stringify({ nodeId: n.id, name: n.name, labels: { zone: n.name === 'r3' ? 'b' : 'a' }, cpus: 4, memoryBytes: 4 * GiB, containers: { total: 0 }, supervisorAddress: `${n.name}:7701`, time: Date.now() })),
        ),
    );
  const record = async (nodeId: string) => (await directory.get(`node.${nodeId}`))?.json<NodeRecord>();

  beforeAll(async () => {
    infra = await startTestInfra({ nats: true, name: 'sched-resched' });
    nc = await connect({ servers: infra.nats!.url });
    const js = nc.jetstream();
    nodesKv = await js.views.kv('drydock_nodes', { ttl: 15000, history: 1 });
    await beat();
    timer = setInterval(() => void beat().catch(() => undefined), 300);
    for (let i = 0; i < 2; i++) {
      const s = await startScheduler(
        loadSchedulerConfig({
          DRYDOCK_NATS_URL: infra.nats!.url,
          DRYDOCK_SCHEDULER_LISTEN: '127.0.0.1:0',
          DRYDOCK_SCHEDULER_NODE_DOWN_AFTER_MS: '1500',
          // the test sweeps both schedulers itself, at the same moment
          DRYDOCK_SCHEDULER_RESCHEDULE_INTERVAL_MS: '3600000',
          DRYDOCK_LOG_LEVEL: 'silent',
        }),
        logger,
      );
      schedulers.push(s);
      clients.push(new schedulerV1.SchedulerClient(`127.0.0.1:${s.port}`, credentials.createInsecure()));
    }
    directory = await js.views.kv('drydock_containers');
  });

  afterAll(async () => {
    clearInterval(timer);
    for (const c of clients) c.close();
    await Promise.all(schedulers.map((s) => s.close()));
    await nc?.close();
    await infra?.stop();
  });

  it('decides one new node for the containers that opted in, records it on both entries, and leaves the others', async () => {
    // everything lands on r1 (the others drained meanwhile); a constraint on r1 would forbid any replacement
    const pinned: string[] = [];
    for (const n of ['r2', 'r3']) await drain(clients[0], n, true);
    // opted in with -e, opted in by label with a constraint the replacement must keep, not opted in
    await place(clients[0], { requestId: 'keep-env', name: 'web', image: 'nginx:1.25', env: [...pinned, 'reschedule:on-node-failure'], labels: {}, memoryBytes: String(GiB) });
    await place(clients[1], {
      requestId: 'keep-label',
      name: 'db',
      env: pinned,
      labels: { 'com.docker.swarm.reschedule-policies': '["on-node-failure"]', 'com.docker.swarm.constraints': '["zone==~a"]' },
    });
    await place(clients[0], { requestId: 'stay', name: 'batch', env: pinned, labels: {} });
    for (const n of ['r2', 'r3']) await drain(clients[1], n, false);
    for (const key of ['keep-env', 'keep-label', 'stay']) expect((await record(nodes[0].id))!.containers[key]).toBeDefined();
    // r1 is lost
    nodes[0].beating = false;
    const lostAt = Date.now();
    let old: NodeRecord | undefined;
    for (;;) {
      await Promise.all(schedulers.map((x) => x.rescheduler.sweep()));
      old = await record(nodes[0].id);
      if (old?.containers['keep-env']?.rescheduledTo && old.containers['keep-label']?.rescheduledTo) break;
      if (Date.now() - lostAt > 10000) throw new Error(`not rescheduled: ${JSON.stringify(old)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(old!.containers.stay.rescheduledTo).toBeUndefined();
    for (const key of ['keep-env', 'keep-label']) {
      const to = old!.containers[key].rescheduledTo!;
      expect(to.nodeId).not.toBe(nodes[0].id);
      const target = (await record(to.nodeId))!;
      expect(target.containers[to.requestId]).toMatchObject({ name: old!.containers[key].name, memoryBytes: old!.containers[key].memoryBytes, rescheduledFrom: { nodeId: nodes[0].id, key }, reschedule: 'on-node-failure' });
      // both schedulers swept: still exactly one replacement in the cluster
      let copies = 0;
      for (const n of nodes) copies += Object.values((await record(n.id))?.containers ?? {}).filter((c) => c.rescheduledFrom?.key === key).length;
      expect(copies).toBe(1);
    }
    // the constraint stored in the label still holds for the replacement (soft zone==~a: r2 over r3)
    expect(old!.containers['keep-label'].rescheduledTo!.nodeName).toBe('r2');
  });
});
