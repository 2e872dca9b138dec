import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connect, type KV, type NatsConnection } from 'nats';
import { schedulerV1 } from '@drydock/proto';
import { createLogger } from '@drydock/logging';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { loadSchedulerConfig } from '../src/config';
import { startScheduler, type RunningScheduler } from '../src/server';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const logger = createLogger({ service: 'scheduler-race-test', level: 'silent' });

type Client = InstanceType<typeof schedulerV1.SchedulerClient>;
const place = (c: Client, req: schedulerV1.PlaceRequest) =>
  new Promise<schedulerV1.PlaceResponse>((resolve, reject) => c.place(req, (e: ServiceError | null, r: schedulerV1.PlaceResponse) => (e ? reject(e) : resolve(r))));
const req = (requestId: string, over: Partial<schedulerV1.PlaceRequest> = {}): schedulerV1.PlaceRequest => ({ requestId, env: [], labels: {}, ...over });

interface Entry {
  memoryBytes: number;
}
interface Record {
  containers: { [id: string]: Entry };
  fences?: { [id: string]: { claimRevision: number } };
}

/**
 * Two schedulers with opposite strategies (spread and binpack) racing on the same requests
 * over small nodes: every write contends, reservations are refused at commit, claims move.
 * What must hold whatever the interleaving: a request lands on one node, the one every
 * successful answer named, its claim points there, and no node holds more than it has.
 */
describe('two schedulers racing', () => {
  let infra: TestInfra;
  let nc: NatsConnection;
  let nodesKv: KV;
  let directory: KV;
  const schedulers: RunningScheduler[] = [];
  const clients: Client[] = [];
  let timer: NodeJS.Timeout | undefined;
  const nodes = ['n1', 'n2', 'n3', 'n4'].map((name, i) => ({ id: `77777777-0000-4000-8000-00000000000${i + 1}`, name }));

  const beat = () =>
    Promise.all(
      nodes.map((n) =>
        nodesKv.put(
          n.id,
          JSON.stringify({ nodeId: n.id, name: n.name, labels: {}, cpus: 2, memoryBytes: 2 * GiB, containers: { total: 0 }, supervisorAddress: `${n.name}:7701`, time: Date.now() }),
        ),
      ),
    );

  const records = async (): Promise<Map<string, { record: Record; revision: number }>> => {
    const out = new Map<string, { record: Record; revision: number }>();
    for (const n of nodes) {
      const e = await directory.get(`node.${n.id}`);
      if (e && e.operation === 'PUT') out.set(n.id, { record: e.json<Record>(), revision: e.revision });
    }
    return out;
  };

  beforeAll(async () => {
    infra = await startTestInfra({ nats: true, name: 'sched-race' });
    nc = await connect({ servers: infra.nats!.url });
    const js = nc.jetstream();
    nodesKv = await js.views.kv('drydock_nodes', { ttl: 15000, history: 1 });
    await beat();
    timer = setInterval(() => void beat().catch(() => undefined), 1000);
    for (const strategy of ['spread', 'binpack']) {
      const s = await startScheduler(
        loadSchedulerConfig({ DRYDOCK_NATS_URL: infra.nats!.url, DRYDOCK_SCHEDULER_LISTEN: '127.0.0.1:0', DRYDOCK_SCHEDULER_STRATEGY: strategy, DRYDOCK_LOG_LEVEL: 'silent' }),
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

  it('never places a request twice nor overcommits a node', async () => {
    // 4 nodes of 2 GiB (+5 %): 4 x 33 reservations of 64 MiB fit, 240 are asked, each on both schedulers at once
    const ids = Array.from({ length: 240 }, (_, i) => `race-${i}`);
    const answers = new Map<string, Array<string | ServiceError>>();
    // a few requests at a time, so that both schedulers keep writing the same records (not one batch each)
    let next = 0;
    const one = async (i: number) => {
      const id = ids[i];
      const r = req(id, { memoryBytes: String(64 * MiB), ...(i % 3 !== 0 ? { env: [`constraint:node==${nodes[i % 4].name}`] } : {}) });
      await Promise.all(
        [0, 1, 0].map(async (k) => {
          const res = await place(clients[(k + i) % 2], r).then(
            (p) => p.nodeId!,
            (e: ServiceError) => e,
          );
          answers.set(id, [...(answers.get(id) ?? []), res]);
        }),
      );
    };
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < ids.length) await one(next++);
      }),
    );
    const recs = await records();
    const where = new Map<string, string[]>();
    let total = 0;
    for (const [nodeId, { record }] of recs) {
      const used = Object.values(record.containers).reduce((s, c) => s + c.memoryBytes, 0);
      expect(used).toBeLessThanOrEqual(2 * GiB + Math.floor(2 * GiB * 0.05));
      for (const id of Object.keys(record.containers)) where.set(id, [...(where.get(id) ?? []), nodeId]);
      total += Object.keys(record.containers).length;
    }
    let placed = 0;
    for (const id of ids) {
      const ok = answers.get(id)!.filter((a): a is string => typeof a === 'string');
      const failed = answers.get(id)!.filter((a): a is ServiceError => typeof a !== 'string');
      for (const f of failed) expect(f.details).toMatch(/no resources available to schedule container|Unable to find a node/);
      const claim = await directory.get(`req.${id}`);
      if (ok.length === 0) {
        expect(where.get(id)).toBeUndefined();
        continue;
      }
      placed++;
      // every answer for the request names one node, the one holding it, and its claim says so
      expect(new Set(ok).size).toBe(1);
      expect(where.get(id)).toEqual([ok[0]]);
      expect(claim?.json<{ nodeId: string }>().nodeId).toBe(ok[0]);
    }
    expect(total).toBe(placed);
    expect(placed).toBeGreaterThan(0);
    // nothing leaked (a reservation without its request, a hold never released): what is left fills up exactly
    let filled = 0;
    for (let k = 0; k < 140; k++) {
      const r = await place(clients[k % 2], req(`fill-${k}`, { memoryBytes: String(64 * MiB) })).catch((e: ServiceError) => e);
      if ('details' in r) {
        expect(r.details).toBe('no resources available to schedule container');
        break;
      }
      filled++;
    }
    expect(placed + filled).toBe(4 * 33);
  });

  it('moves a claim stranded on a full node behind a fence, once, whoever completes it', async () => {
    // a scheduler claimed `stranded` for n1 and died before reserving; n1 has filled up since
    const full = (await records()).get(nodes[0].id)!;
    const used = Object.values(full.record.containers).reduce((s, c) => s + c.memoryBytes, 0);
    expect(used + 512 * MiB).toBeGreaterThan(2 * GiB + Math.floor(2 * GiB * 0.05));
    const claimRevision = await directory.create('req.stranded', JSON.stringify({ requestId: 'stranded', nodeId: nodes[0].id, time: Date.now() }));
    // room for it on n3 only: 512 MiB of n3's reservations go away
    const n3 = (await records()).get(nodes[2].id)!;
    const rest = { ...n3.record.containers };
    for (const id of Object.keys(rest).slice(0, 8)) delete rest[id];
    await directory.update(`node.${nodes[2].id}`, JSON.stringify({ ...n3.record, containers: rest }), n3.revision);
    const [a, b] = await Promise.all([place(clients[0], req('stranded', { memoryBytes: String(512 * MiB) })), place(clients[1], req('stranded', { memoryBytes: String(512 * MiB) }))]);
    expect(a.nodeId).toBe(nodes[2].id);
    expect(b.nodeId).toBe(nodes[2].id);
    const after = await records();
    expect(after.get(nodes[0].id)!.record.fences?.stranded).toEqual(expect.objectContaining({ claimRevision }));
    expect([...after].filter(([, r]) => r.record.containers.stranded).map(([id]) => id)).toEqual([nodes[2].id]);
    expect((await directory.get('req.stranded'))!.json<{ nodeId: string }>().nodeId).toBe(nodes[2].id);
    // and a later attempt on the old claim's node finds the fence: the retry still answers n3
    expect((await place(clients[1], req('stranded', { memoryBytes: String(512 * MiB) }))).nodeId).toBe(nodes[2].id);
  });
});
