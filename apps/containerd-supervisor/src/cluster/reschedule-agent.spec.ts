import type { KV } from 'nats';
import { NotFoundError } from '@drydock/errors';
import { createLogger } from '@drydock/logging';
import { supervisorV1 } from '@drydock/proto';
import { nodeKey, RESCHEDULE_LABEL, SWARM_ID_LABEL, type NodeRecord, type PlacedContainer } from '@drydock/cluster';
import { RescheduleAgent, type RescheduleContainers } from './reschedule-agent';

const logger = createLogger({ service: 'test', level: 'silent' });
const OPTED = { [RESCHEDULE_LABEL]: '["on-node-failure"]' };

/** The part of a KV bucket getJson reads. */
class FakeKv {
  readonly values = new Map<string, unknown>();
  async get(key: string) {
    if (!this.values.has(key)) return null;
    const value = new TextEncoder().encode(JSON.stringify(this.values.get(key)));
    return { key, operation: 'PUT', value, length: value.length, revision: 1, created: new Date() };
  }
  record(nodeId: string, containers: Record<string, PlacedContainer>): void {
    this.values.set(nodeKey(nodeId), { nodeId, drained: false, containers, updatedAt: 1 } satisfies NodeRecord);
  }
}

/** Containers of one node, as the agent sees them through the manager. */
class FakeContainers implements RescheduleContainers {
  readonly made = new Map<string, supervisorV1.ContainerInfo>();
  readonly calls: string[] = [];
  failCreate = 0;
  /** Images this node has; undefined: every image. */
  images?: Set<string>;
  ids = () => [...this.made.keys()];
  inspect = (id: string) => this.made.get(id);
  async create(req: supervisorV1.CreateContainerRequest) {
    this.calls.push(`create ${req.name}`);
    if (this.failCreate-- > 0) throw new Error('create failed');
    if (this.images && !this.images.has(req.config!.image!)) throw new NotFoundError(`No such image: ${req.config!.image}`);
    const id = `new${this.made.size}`;
    this.made.set(id, { id, name: req.name, config: req.config, hostConfig: req.hostConfig, state: { status: 'created', running: false } });
    return { id };
  }
  async start(id: string) {
    this.calls.push(`start ${id}`);
    this.made.get(id)!.state = { status: 'running', running: true };
    return true;
  }
  async pull(ref: string) {
    this.calls.push(`pull ${ref}`);
    this.images?.add(ref);
  }
  async remove(id: string) {
    this.calls.push(`remove ${id}`);
    this.made.delete(id);
  }
}

const createReq = (name: string) =>
  supervisorV1.CreateContainerRequest.toJSON({ name, config: { image: 'busybox', cmd: { values: ['sleep', '100'] }, env: ['FOO=bar'], labels: { ...OPTED, app: 'web' } }, hostConfig: { memory: '0' } });

function setup() {
  const kv = new FakeKv();
  const containers = new FakeContainers();
  const successions: string[] = [];
  const names = {
    succeed: (name: string, from: { id: string; nodeId: string }) => {
      successions.push(`${name}<-${from.nodeId}/${from.id}`);
      return () => successions.push(`${name} done`);
    },
  };
  let directory: KV | undefined = kv as unknown as KV;
  const agent = new RescheduleAgent({ nodeId: 'n3', directory: () => directory, containers, names, logger, intervalMs: 60000 });
  return { kv, containers, successions, agent, setDirectory: (d: boolean) => (directory = d ? (kv as unknown as KV) : undefined) };
}

const reservation = (extra: Partial<PlacedContainer> = {}): PlacedContainer => ({
  name: 'web',
  memoryBytes: 0,
  nanoCpus: 0,
  ports: [],
  requestId: 'old-rs-n2',
  reschedule: 'on-node-failure',
  rescheduledFrom: { nodeId: 'n2', key: 'old' },
  ...extra,
});

describe('RescheduleAgent', () => {
  it('makes the replacement its reservation asks for once, from the kept create request, with the name handed over and the request id as its label, and starts it', async () => {
    const { kv, containers, successions, agent } = setup();
    kv.record('n3', { 'old-rs-n2': reservation({ create: createReq('web'), running: true }) });
    await agent.tick();
    expect(containers.calls).toEqual(['create web', 'start new0']);
    const made = containers.made.get('new0')!;
    expect(made.config).toMatchObject({ image: 'busybox', cmd: { values: ['sleep', '100'] }, env: ['FOO=bar'], labels: { ...OPTED, app: 'web', [SWARM_ID_LABEL]: 'old-rs-n2' } });
    expect(successions).toEqual(['web<-n2/old', 'web done']);
    // the directory still shows the reservation (the sync has not written yet): no second create
    await agent.tick();
    expect(containers.calls).toEqual(['create web', 'start new0']);
  });

  it("falls back to the lost entry's create request, and leaves a container that was not running created", async () => {
    const { kv, containers, agent } = setup();
    kv.record('n2', { old: { id: 'old', name: 'db', memoryBytes: 0, nanoCpus: 0, ports: [], create: createReq('db'), running: false } });
    kv.record('n3', { 'old-rs-n2': reservation({ name: 'db' }) });
    await agent.tick();
    expect(containers.calls).toEqual(['create db']);
    expect(containers.made.get('new0')!.state!.status).toBe('created');
  });

  it('retries a create that failed on the next pass, and a start owed by a replacement made before a crash', async () => {
    const { kv, containers, agent } = setup();
    kv.record('n3', { 'old-rs-n2': reservation({ create: createReq('web'), running: true }) });
    containers.failCreate = 1;
    await agent.tick();
    expect(containers.calls).toEqual(['create web']);
    await agent.tick();
    expect(containers.calls).toEqual(['create web', 'create web', 'start new0']);
    // made and never started (the supervisor died between the two)
    const other = setup();
    other.kv.record('n3', { 'old-rs-n2': reservation({ create: createReq('web'), running: true }) });
    other.containers.made.set('c1', { id: 'c1', config: { labels: { [SWARM_ID_LABEL]: 'old-rs-n2' } }, state: { status: 'created' } });
    await other.agent.tick();
    expect(other.containers.calls).toEqual(['start c1']);
  });

  it('pulls the image a replacement lacks and creates it then', async () => {
    const { kv, containers, agent } = setup();
    containers.images = new Set();
    kv.record('n3', { 'old-rs-n2': reservation({ create: createReq('web'), running: true }) });
    await agent.tick();
    expect(containers.calls).toEqual(['create web', 'pull busybox', 'create web', 'start new0']);
  });

  it('makes nothing without a create request', async () => {
    const { kv, containers, agent } = setup();
    kv.record('n2', { old: { id: 'old', name: 'web', memoryBytes: 0, nanoCpus: 0, ports: [] } });
    kv.record('n3', { 'old-rs-n2': reservation() });
    await agent.tick();
    expect(containers.calls).toEqual([]);
  });

  it('removes its containers rescheduled away while it was lost, and only those', async () => {
    const { kv, containers, agent } = setup();
    for (const id of ['stale', 'kept']) containers.made.set(id, { id, config: { labels: OPTED }, state: { status: 'running', running: true } });
    const to = { nodeId: 'n1', nodeName: 'node1', requestId: 'stale-rs-n3', time: 1 };
    kv.record('n3', { stale: { id: 'stale', name: 'web', memoryBytes: 0, nanoCpus: 0, ports: [], rescheduledTo: to }, kept: { id: 'kept', name: 'db', memoryBytes: 0, nanoCpus: 0, ports: [] } });
    await agent.tick();
    expect(containers.calls).toEqual(['remove stale']);
    expect(containers.ids()).toEqual(['kept']);
  });

  it('gates restarts of opted-in containers on the directory: refused when rescheduled away, waiting while it cannot be read', async () => {
    const { kv, agent, setDirectory } = setup();
    const to = { nodeId: 'n1', nodeName: 'node1', requestId: 'r', time: 1 };
    kv.record('n3', { away: { id: 'away', memoryBytes: 0, nanoCpus: 0, ports: [], rescheduledTo: to }, here: { id: 'here', memoryBytes: 0, nanoCpus: 0, ports: [] } });
    await expect(agent.restartGate('away', OPTED)).resolves.toBe(false);
    await expect(agent.restartGate('here', OPTED)).resolves.toBe(true);
    // not opted in: never rescheduled, never waits
    setDirectory(false);
    await expect(agent.restartGate('away', {})).resolves.toBe(true);
    let answer: boolean | undefined;
    const gate = agent.restartGate('away', OPTED).then((a) => (answer = a));
    await new Promise((r) => setTimeout(r, 1200));
    expect(answer).toBeUndefined();
    setDirectory(true);
    await gate;
    expect(answer).toBe(false);
    agent.close();
  });
});
