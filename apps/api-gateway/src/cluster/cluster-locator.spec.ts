import { NotFoundError } from '@drydock/errors';
import type { SupervisorClient } from '../backend/supervisor-client';
import { ClusterLocator, type ClusterDirectory } from './cluster-locator';
import type { ClusterNode } from './cluster-view';

/** A supervisor that knows some container ids/names and exec ids; counts the calls it gets. */
function fakeSupervisor(address: string, has: { containers?: string[]; execs?: string[] } = {}): SupervisorClient & { calls: number } {
  const containers = { inspectContainer: Symbol('inspectContainer') };
  const exec = { inspectExec: Symbol('inspectExec') };
  const sc = {
    address,
    calls: 0,
    containers,
    exec,
    call: async (_client: unknown, method: unknown, req: { id: string }) => {
      sc.calls++;
      const known = method === containers.inspectContainer ? has.containers ?? [] : has.execs ?? [];
      if (!known.includes(req.id)) throw new NotFoundError(`No such container: ${req.id}`);
      return { container: { id: req.id } };
    },
    close: () => undefined,
  };
  return sc as unknown as SupervisorClient & { calls: number };
}

const node = (id: string, address: string, healthy = true): ClusterNode => ({
  id,
  name: `name-${id}`,
  address,
  ip: '127.0.0.1',
  labels: {},
  cpus: 2,
  memoryBytes: 1 << 30,
  healthy,
  lastSeen: healthy ? Date.now() : Date.now() - 60000,
  counts: { total: 0, running: 0, paused: 0, stopped: 0 },
  reservedNanoCpus: 0,
  reservedMemoryBytes: 0,
});

function directory(nodes: ClusterNode[], entries: { nodeId: string; id: string; name: string }[]): ClusterDirectory {
  return {
    nodes: () => nodes,
    node: (id) => nodes.find((n) => n.id === id),
    find: (ref) => {
      const byId = entries.filter((e) => e.id === ref);
      if (byId.length) return byId.map((e) => ({ nodeId: e.nodeId, entry: { id: e.id } }));
      const byName = entries.filter((e) => e.name === ref.replace(/^\//, ''));
      if (byName.length) return byName.map((e) => ({ nodeId: e.nodeId, entry: { id: e.id } }));
      return entries.filter((e) => e.id.startsWith(ref)).map((e) => ({ nodeId: e.nodeId, entry: { id: e.id } }));
    },
  };
}

const ID_A = 'aa'.repeat(32);
const ID_B = 'ab'.repeat(32);

function setup(opts: { bHealthy?: boolean; view?: boolean } = {}) {
  const local = fakeSupervisor('127.0.0.1:1', { containers: [ID_A], execs: ['exec-a'] });
  const remotes = new Map<string, SupervisorClient & { calls: number }>();
  const b = fakeSupervisor('10.0.0.2:7701', { containers: [ID_B, 'db', 'fresh'], execs: ['exec-b'] });
  remotes.set(b.address, b);
  const view = directory([node('na', '10.0.0.1:7701'), node('nb', b.address, opts.bHealthy ?? true)], [
    { nodeId: 'na', id: ID_A, name: 'web' },
    { nodeId: 'nb', id: ID_B, name: 'db' },
  ]);
  const connected: string[] = [];
  const locator = new ClusterLocator({
    local,
    view: () => (opts.view === false ? undefined : view),
    localNodeId: async () => 'na',
    connect: (address) => {
      connected.push(address);
      return remotes.get(address) ?? fakeSupervisor(address);
    },
    probeTimeoutMs: 1000,
  });
  return { locator, local, b, connected };
}

describe('ClusterLocator', () => {
  it('resolves ids, names and prefixes through the directory to the owning node, one client per node', async () => {
    const { locator, local, b, connected } = setup();
    expect(await locator.forContainer(ID_A)).toBe(local);
    expect(await locator.forContainer('db')).toBe(b);
    expect(await locator.forContainer('/db')).toBe(b);
    expect(await locator.forContainer(ID_B.slice(0, 6))).toBe(b);
    expect(await locator.forContainer(ID_B)).toBe(b);
    expect(connected).toEqual([b.address]);
    // answered from the directory: no node was asked
    expect(local.calls + b.calls).toBe(0);
  });

  it('refuses a prefix matching containers on two nodes with dockerd text', async () => {
    const { locator, local, b } = setup();
    // the supervisors resolve prefixes as dockerd does
    (local as unknown as { call: unknown }).call = async () => ({ container: { id: ID_A } });
    (b as unknown as { call: unknown }).call = async () => ({ container: { id: ID_B } });
    await expect(locator.forContainer('a')).rejects.toThrow('Multiple IDs found with provided prefix: a');
  });

  it('asks the nodes when the directory still holds a name on its old node', async () => {
    const { locator, b } = setup();
    // "db" was removed on node a (its entry not gone yet) and made again on node b
    const view = (locator as unknown as { opts: { view: () => ClusterDirectory } }).opts.view();
    const find = view.find;
    view.find = (ref) => (ref === 'db' ? [{ nodeId: 'na', entry: { id: ID_A } }, ...find(ref)] : find(ref));
    expect(await locator.forContainer('db')).toBe(b);
  });

  it('fails at once for a container on a node that is down', async () => {
    const { locator, b } = setup({ bHealthy: false });
    await expect(locator.forContainer('db')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('container db is on node name-nb, which is down; last heartbeat 60 s ago') });
    expect(b.calls).toBe(0);
    // and leaves it out of listings
    expect(locator.all().map((s) => s.address)).toEqual(['127.0.0.1:1']);
  });

  it('asks the live nodes for what the directory does not know yet, else answers with the local node', async () => {
    const { locator, local, b } = setup();
    expect(await locator.forContainer('fresh')).toBe(b);
    expect(await locator.forContainer('nowhere')).toBe(local);
  });

  it('finds an exec id on its node, and remembers it', async () => {
    const { locator, local, b } = setup();
    expect(await locator.forExec('exec-a')).toBe(local);
    expect(await locator.forExec('exec-b')).toBe(b);
    const before = b.calls + local.calls;
    expect(await locator.forExec('exec-b')).toBe(b);
    expect(b.calls + local.calls).toBe(before);
  });

  it('works from the local node alone before the cluster view exists', async () => {
    const { locator, local } = setup({ view: false });
    expect(await locator.forContainer('db')).toBe(local);
    expect(locator.all()).toEqual([local]);
    expect(locator.nodes()).toEqual([]);
  });

  it('names the node of a client', async () => {
    const { locator, local, b } = setup();
    expect((await locator.nodeOf(local))?.id).toBe('na');
    await locator.forContainer('db');
    expect((await locator.nodeOf(b))?.name).toBe('name-nb');
  });
});
