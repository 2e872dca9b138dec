// The supervisor's part of a cluster against a REAL NATS: names taken atomically in the
// directory bucket, and the node's containers kept in its directory record.
import { connect, type KV, type NatsConnection } from 'nats';
import { createLogger } from '@drydock/logging';
import { DIRECTORY_BUCKET, getJson, nameKey, nodeKey, type NameClaim, type NodeRecord } from '@drydock/cluster';
import { startTestInfra, type TestInfra } from '@drydock/testing';
import { waitFor } from '@drydock/infra';
import { supervisorV1 } from '@drydock/proto';
import { KvNameRegistry } from '../src/cluster/kv-names';
import { DirectorySync } from '../src/cluster/directory-sync';

const logger = createLogger({ service: 'test', level: 'silent' });
let infra: TestInfra;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  infra = await startTestInfra({ nats: true, name: 'cgw-names' });
  nc = await connect({ servers: infra.nats!.url });
  kv = await nc.jetstream().views.kv(DIRECTORY_BUCKET, { history: 1 });
}, 60000);
afterAll(async () => {
  await nc?.close();
  await infra?.stop();
});

const registry = (nodeId: string, local: Set<string> = new Set()) => new KvNameRegistry({ directory: () => kv, nodeId, isLocal: (id) => local.has(id), timeoutMs: 3000 });

describe('KvNameRegistry', () => {
  it('gives a name raced for by two nodes to exactly one of them', async () => {
    const a = registry('node-a');
    const b = registry('node-b');
    const results = await Promise.all([a.take('race', 'id-a'), b.take('race', 'id-b')]);
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    const claim = (await getJson<NameClaim>(kv, nameKey('race')))!.value;
    // the loser is told the winner's container
    expect(results).toContain(claim.id);
    expect(claim.nodeId).toBe(claim.id === 'id-a' ? 'node-a' : 'node-b');
  });

  it('is idempotent for the holder, releases only for the holder, and keeps names with dots apart', async () => {
    const a = registry('node-a');
    expect(await a.take('web.1', 'c1')).toBeUndefined();
    expect(await a.take('web.1', 'c1')).toBeUndefined();
    expect(await a.take('web-1', 'c2')).toBeUndefined();
    await a.release('web.1', 'someone-else');
    expect(await registry('node-b').take('web.1', 'c3')).toBe('c1');
    await a.release('web.1', 'c1');
    expect(await registry('node-b').take('web.1', 'c3')).toBeUndefined();
  });

  it('takes over its own node claim for a container the node no longer has', async () => {
    expect(await registry('node-a', new Set(['old'])).take('stale', 'old')).toBeUndefined();
    // node-a restarted without container "old" (crashed between rm and release)
    expect(await registry('node-a', new Set()).take('stale', 'new')).toBeUndefined();
    expect((await getJson<NameClaim>(kv, nameKey('stale')))!.value.id).toBe('new');
    // another node never takes it over
    expect(await registry('node-b').take('stale', 'other')).toBe('new');
  });

  it("hands a lost node's name claim to its replacement at the claim's revision, only for the announced container", async () => {
    expect(await registry('lost').take('moved', 'old')).toBeUndefined();
    const b = registry('node-b');
    // without the hand-over the name is the lost container's
    expect(await b.take('moved', 'new')).toBe('old');
    // announced for another container: refused
    const wrong = b.succeed('moved', { id: 'other', nodeId: 'lost' });
    expect(await b.take('moved', 'new')).toBe('old');
    wrong();
    const undo = b.succeed('moved', { id: 'old', nodeId: 'lost' });
    expect(await b.take('moved', 'new')).toBeUndefined();
    undo();
    expect((await getJson<NameClaim>(kv, nameKey('moved')))!.value).toMatchObject({ id: 'new', nodeId: 'node-b' });
    // the lost node, back, cannot take it back nor release it
    expect(await registry('lost', new Set(['old'])).take('moved', 'old')).toBe('new');
    await registry('lost').release('moved', 'old');
    expect((await getJson<NameClaim>(kv, nameKey('moved')))!.value.id).toBe('new');
  });

  it('refuses with a clear error when the registry cannot be reached', async () => {
    const off = new KvNameRegistry({ directory: () => undefined, nodeId: 'x', isLocal: () => false, timeoutMs: 1000 });
    await expect(off.take('n', 'i')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: `cannot take the container name "/n": the cluster's name registry (NATS) is unreachable` });
  });
});

describe('DirectorySync', () => {
  const info = (id: string, name: string, labels: Record<string, string> = {}): supervisorV1.ContainerInfo => ({
    id,
    name,
    config: { image: 'busybox', labels },
    hostConfig: { memory: '1048576', nanoCpus: '500000000', portBindings: { '80/tcp': { bindings: [{ hostIp: '', hostPort: '8080' }] } } },
  });

  it('enters the node containers (made while NATS was away too), replaces a reservation, drops gone ones and their names', async () => {
    const containers = new Map([['c-made-offline', info('c-made-offline', 'offline')]]);
    // a Place reservation for request r1, and a leftover entry of a container that is gone
    await kv.put(nodeKey('node-s'), JSON.stringify({ nodeId: 'node-s', drained: false, updatedAt: 0, containers: { r1: { requestId: 'r1', memoryBytes: 0, nanoCpus: 0, ports: [] }, gone: { id: 'gone', name: 'gone', memoryBytes: 0, nanoCpus: 0, ports: [] } } }));
    await kv.put(nameKey('gone'), JSON.stringify({ name: 'gone', id: 'gone', nodeId: 'node-s', time: 0 }));
    const names = registry('node-s', new Set(containers.keys()));
    const sync = new DirectorySync({ nodeId: 'node-s', nodeName: 's', ids: () => [...containers.keys()], inspect: (id) => containers.get(id), names, logger });
    sync.attach(kv);
    const record = async () => (await getJson<NodeRecord>(kv, nodeKey('node-s')))!.value;
    await waitFor(async () => !!(await record()).containers['c-made-offline'] && !(await getJson(kv, nameKey('gone'))), 10000, 'reconcile');
    const r = await record();
    expect(Object.keys(r.containers).sort()).toEqual(['c-made-offline', 'r1']);
    expect(r.containers['c-made-offline']).toMatchObject({ name: 'offline', memoryBytes: 1048576, nanoCpus: 500000000, ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }] });
    expect((await getJson<NameClaim>(kv, nameKey('offline')))!.value).toMatchObject({ id: 'c-made-offline', nodeId: 'node-s' });

    // the placed container arrives carrying its request id: it takes the reservation's place
    containers.set('c-placed', info('c-placed', 'placed', { 'com.docker.swarm.id': 'r1' }));
    sync.container('create', { id: 'c-placed' });
    await waitFor(async () => !!(await record()).containers['c-placed'], 10000, 'create written');
    expect(Object.keys((await record()).containers).sort()).toEqual(['c-made-offline', 'c-placed']);

    containers.delete('c-made-offline');
    sync.container('destroy', { id: 'c-made-offline' });
    await waitFor(async () => !(await record()).containers['c-made-offline'], 10000, 'destroy written');
    sync.close();
  });

  it("keeps an opted-in container's create request and run state in its entry, and the scheduler's marks across rewrites", async () => {
    const opted = { 'com.docker.swarm.reschedule-policies': '["on-node-failure"]', 'com.docker.swarm.id': 'r9', app: 'web' };
    const web: supervisorV1.ContainerInfo = {
      ...info('c-web', 'web', opted),
      config: { image: 'busybox', hostname: 'c-web'.slice(0, 12), cmd: { values: ['sleep', '9'] }, env: ['FOO=bar'], labels: opted },
      state: { status: 'running', running: true },
    };
    const containers = new Map([['c-web', web], ['c-plain', info('c-plain', 'plain')]]);
    const sync = new DirectorySync({ nodeId: 'node-r', nodeName: 'r', ids: () => [...containers.keys()], inspect: (id) => containers.get(id), names: registry('node-r', new Set(containers.keys())), logger });
    sync.attach(kv);
    const record = async () => (await getJson<NodeRecord>(kv, nodeKey('node-r')))?.value;
    await waitFor(async () => !!(await record())?.containers['c-web'], 10000, 'reconcile');
    const e = (await record())!.containers['c-web'];
    expect(e).toMatchObject({ reschedule: 'on-node-failure', running: true });
    const req = supervisorV1.CreateContainerRequest.fromJSON(e.create);
    expect(req).toMatchObject({ name: 'web', config: { image: 'busybox', cmd: { values: ['sleep', '9'] }, env: ['FOO=bar'] } });
    // its own request id and made-up hostname are not the replacement's
    expect(req.config!.labels).toEqual({ 'com.docker.swarm.reschedule-policies': '["on-node-failure"]', app: 'web' });
    expect(req.config!.hostname ?? '').toBe('');
    expect((await record())!.containers['c-plain'].create).toBeUndefined();

    // the scheduler marks it rescheduled; the die written next (and a full reconcile) keep the mark
    const cur = (await getJson<NodeRecord>(kv, nodeKey('node-r')))!;
    const to = { nodeId: 'n1', nodeName: 'node1', requestId: 'c-web-rs-node-r', time: 1 };
    await kv.update(nodeKey('node-r'), JSON.stringify({ ...cur.value, containers: { ...cur.value.containers, 'c-web': { ...e, rescheduledTo: to } } }), cur.revision);
    containers.set('c-web', { ...web, state: { status: 'exited', running: false } });
    sync.container('die', { id: 'c-web' });
    await waitFor(async () => (await record())!.containers['c-web'].running === false, 10000, 'die written');
    expect((await record())!.containers['c-web'].rescheduledTo).toEqual(to);
    sync.close();
  });
});
