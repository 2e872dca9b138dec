import { parseClusterArgs } from './cluster-args';
import { assignIndexes, chooseRanges, nodeEnv, overlaps, planCluster, sharedEnv } from './cluster-plan';

describe('parseClusterArgs', () => {
  it('defaults to three nodes node1..node3 under /var/lib/drydock/cluster and /run/drydock', () => {
    expect(parseClusterArgs([])).toEqual({
      mode: 'up',
      names: ['node1', 'node2', 'node3'],
      stateDir: '/var/lib/drydock/cluster',
      runDir: '/run/drydock',
      netnsPrefix: 'drydock-',
      bridge: 'ddclus0',
      subnet: undefined,
      pools: undefined,
      join: undefined,
      natsReplicas: 3,
      labels: {},
      strategy: undefined,
    });
    expect(parseClusterArgs(['--nodes', '5']).names).toEqual(['node1', 'node2', 'node3', 'node4', 'node5']);
    expect(parseClusterArgs(['--names', 'a,b,c']).names).toEqual(['a', 'b', 'c']);
    expect(parseClusterArgs(['--nodes', '2', '--names', 'x,y']).names).toEqual(['x', 'y']);
    expect(parseClusterArgs(['--down']).mode).toBe('down');
  });

  it('takes the private names a test needs', () => {
    const a = parseClusterArgs(['--state-dir', '/tmp/t/s/', '--run-dir', '/tmp/t/r', '--netns-prefix', 'ddt-', '--bridge', 'ddt0', '--subnet', '10.229.7.0/24', '--pools', '10.231.0.0/16']);
    expect(a).toMatchObject({ stateDir: '/tmp/t/s', runDir: '/tmp/t/r', netnsPrefix: 'ddt-', bridge: 'ddt0', subnet: '10.229.7.0/24', pools: '10.231.0.0/16' });
  });

  it('reports every bad option at once, with the usage', () => {
    let message = '';
    try {
      parseClusterArgs(['--nodes', '0', '--names', 'A,b,b', '--state-dir', 'rel', '--bridge', 'much-too-long0', '--subnet', '10.0.0.0/16', '--pools', '10.1.2.0/24', '--nats-replicas', '7', 'extra']);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const m of ['unexpected argument(s): extra', '--nodes must be', '--names: "A"', '--names: b given twice', '--state-dir must be an absolute path', '--bridge:', '--subnet must be a /24', '--pools must be a /16', '--nats-replicas must be 1 to 5', 'usage: npm run cluster']) {
      expect(message).toContain(m);
    }
    expect(() => parseClusterArgs(['--nodes', '3', '--names', 'a,b'])).toThrow('--nodes 3 but --names gives 2');
    expect(() => parseClusterArgs(['--nodes', '17'])).toThrow('--nodes must be a whole number from 1 to 16');
    expect(() => parseClusterArgs(['--run-dir', '/' + 'r'.repeat(100)])).toThrow('--run-dir is too long');
    expect(() => parseClusterArgs(['--no-such'])).toThrow(/no-such/);
  });

  it('takes node labels per node and the scheduler strategy', () => {
    const a = parseClusterArgs(['--labels', 'node2:disk=ssd, node2:zone=a=b,node3:disk=hdd', '--strategy', 'binpack']);
    expect(a.labels).toEqual({ node2: { disk: 'ssd', zone: 'a=b' }, node3: { disk: 'hdd' } });
    expect(a.strategy).toBe('binpack');
    let message = '';
    try {
      parseClusterArgs(['--labels', 'node9:a=b,node1:a=1,node1:a=2,node1-x', '--strategy', 'fifo']);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const m of ['--labels: no node node9', '--labels: node1:a given two values', '--labels: "node1-x" (expected NODE:KEY=VALUE)', '--strategy must be spread, binpack or random']) expect(message).toContain(m);
  });

  it('joins an existing cluster only with all its shared services named', () => {
    const a = parseClusterArgs(['--join', 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', '--redis', 'redis://10.0.0.1:6379', '--scheduler', '10.0.0.1:7702', '--registry-proxy', 'http://10.0.0.1:5100/', '--names', 'far1']);
    expect(a.join).toEqual({ nats: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'], redis: 'redis://10.0.0.1:6379', scheduler: '10.0.0.1:7702', registryProxy: 'http://10.0.0.1:5100' });
    expect(() => parseClusterArgs(['--join', 'nats://10.0.0.1:4222'])).toThrow('--join needs --redis, --scheduler, --registry-proxy too');
    expect(() => parseClusterArgs(['--redis', 'redis://x:1'])).toThrow('--redis only go with --join');
  });
});

describe('the address plan', () => {
  it('chooses a /24 and a /16 that no host route overlaps', () => {
    expect(overlaps('10.213.0.0/24', '10.0.0.0/8')).toBe(true);
    expect(overlaps('10.213.0.0/24', '10.213.1.0/24')).toBe(false);
    expect(chooseRanges(['default', '192.0.2.0/24'])).toEqual({ subnet: '10.213.0.0/24', pools: '10.214.0.0/16' });
    expect(chooseRanges(['10.213.0.0/24', '10.213.1.5', '10.214.3.0/24', '10.215.0.0/16'])).toEqual({ subnet: '10.213.2.0/24', pools: '10.216.0.0/16' });
    expect(() => chooseRanges(['10.0.0.0/8'])).toThrow('pass --subnet');
    expect(chooseRanges(['10.0.0.0/8'], { subnet: '172.30.1.0/24', pools: '172.31.0.0/16' })).toEqual({ subnet: '172.30.1.0/24', pools: '172.31.0.0/16' });
  });

  it('keeps a node its address across runs; new names take free ones', () => {
    expect(assignIndexes(['a', 'b', 'c'])).toEqual({ a: 0, b: 1, c: 2 });
    expect(assignIndexes(['c', 'd'], { a: 0, b: 1, c: 2 })).toEqual({ c: 2, d: 3 });
    expect(assignIndexes(['b', 'a'], { a: 0, b: 1 })).toEqual({ a: 0, b: 1 });
    expect(() => assignIndexes(['z'], Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`n${i}`, i])))).toThrow('no address left for node z');
  });

  it('gives every node its own namespace, address, pool, names and socket', () => {
    const p = planCluster(parseClusterArgs([]), { subnet: '10.213.0.0/24', pools: '10.214.0.0/16' });
    expect(p.hostAddress).toBe('10.213.0.1');
    expect(p.nodes.map((n) => [n.name, n.netns, n.address, n.vethHost, n.pool, n.chainPrefix, n.gatewaySocket])).toEqual([
      ['node1', 'drydock-node1', '10.213.0.11', 'ddclus0v1', '10.214.0.0/20:24', 'DDN1', '/run/drydock/nodes/node1/docker.sock'],
      ['node2', 'drydock-node2', '10.213.0.12', 'ddclus0v2', '10.214.16.0/20:24', 'DDN2', '/run/drydock/nodes/node2/docker.sock'],
      ['node3', 'drydock-node3', '10.213.0.13', 'ddclus0v3', '10.214.32.0/20:24', 'DDN3', '/run/drydock/nodes/node3/docker.sock'],
    ]);
    // pools never overlap each other
    const pools = p.nodes.map((n) => n.pool.split(':')[0]);
    for (const a of pools) for (const b of pools) if (a !== b) expect(overlaps(a, b)).toBe(false);
    expect(p.natsUrls).toEqual(['nats://10.213.0.1:4222', 'nats://10.213.0.1:4223', 'nats://10.213.0.1:4224']);
    expect(p.nats.map((m) => [m.name, m.routePort, m.dir])).toEqual([
      ['nats-1', 6222, '/var/lib/drydock/cluster/nats/1'],
      ['nats-2', 6223, '/var/lib/drydock/cluster/nats/2'],
      ['nats-3', 6224, '/var/lib/drydock/cluster/nats/3'],
    ]);
    expect(p.persisted).toEqual({ subnet: '10.213.0.0/24', pools: '10.214.0.0/16', indexes: { node1: 0, node2: 1, node3: 2 } });
  });

  it('puts every node in cluster mode with its reachable supervisor address and replicated NATS', () => {
    const p = planCluster(parseClusterArgs(['--names', 'a,b']), { subnet: '10.213.4.0/24', pools: '10.220.0.0/16' });
    const env = nodeEnv(p, p.nodes[1], { logger: '/l', dns: '/d' });
    expect(env).toMatchObject({
      DRYDOCK_CLUSTER: '1',
      DRYDOCK_NODE_NAME: 'b',
      DRYDOCK_SUPERVISOR_LISTEN: '10.213.4.12:7701',
      DRYDOCK_SUPERVISOR_ADDRESS: '10.213.4.12:7701',
      DRYDOCK_SCHEDULER_ADDRESS: '10.213.4.1:7702',
      DRYDOCK_NATS_URL: 'nats://10.213.4.1:4222,nats://10.213.4.1:4223,nats://10.213.4.1:4224',
      DRYDOCK_NATS_REPLICAS: '3',
      DRYDOCK_REDIS_URL: 'redis://10.213.4.1:6379',
      DRYDOCK_REGISTRY_PROXY_URL: 'http://10.213.4.1:5100',
      DRYDOCK_STATE_DIR: '/var/lib/drydock/cluster/nodes/b',
      DRYDOCK_CONTAINERD_ADDRESS: '/var/lib/drydock/cluster/nodes/b/containerd/c.sock',
      DRYDOCK_NETWORK_POOLS: '10.220.16.0/20:24',
      DRYDOCK_CGROUP_PARENT: '/drydock-b',
      DRYDOCK_BUILD_QUEUE: 'drydock-builds.b',
    });
    expect(sharedEnv(p, 'scheduler')).toMatchObject({ DRYDOCK_SCHEDULER_LISTEN: '10.213.4.1:7702', DRYDOCK_NATS_REPLICAS: '3' });
    expect(sharedEnv(p, 'scheduler').DRYDOCK_SCHEDULER_STRATEGY).toBeUndefined();
    expect(env.DRYDOCK_NODE_LABELS).toBe('');
    const q = planCluster(parseClusterArgs(['--names', 'a,b', '--labels', 'b:disk=ssd,b:rack=2', '--strategy', 'binpack']), { subnet: '10.213.4.0/24', pools: '10.220.0.0/16' });
    expect(nodeEnv(q, q.nodes[1], { logger: '/l', dns: '/d' })).toMatchObject({ DRYDOCK_NODE_LABELS: 'disk=ssd,rack=2', DRYDOCK_SCHEDULER_STRATEGY: 'binpack' });
    expect(sharedEnv(q, 'scheduler').DRYDOCK_SCHEDULER_STRATEGY).toBe('binpack');
    expect(sharedEnv(p, 'registry-proxy')).toMatchObject({ DRYDOCK_REGISTRY_PROXY_LISTEN: '10.213.4.1:5100', DRYDOCK_REGISTRY_PROXY_DIR: '/var/lib/drydock/cluster/registry' });
  });

  it('points joined nodes at the existing cluster and starts no shared service', () => {
    const args = parseClusterArgs(['--join', 'nats://10.0.0.1:4222', '--redis', 'redis://10.0.0.1:6379', '--scheduler', '10.0.0.1:7702', '--registry-proxy', 'http://10.0.0.1:5100', '--names', 'far']);
    const p = planCluster(args, { subnet: '10.213.9.0/24', pools: '10.230.0.0/16' });
    expect(p.shared).toBe(false);
    expect(p.nats).toEqual([]);
    expect(nodeEnv(p, p.nodes[0], { logger: '/l', dns: '/d' })).toMatchObject({
      DRYDOCK_NATS_URL: 'nats://10.0.0.1:4222',
      DRYDOCK_REDIS_URL: 'redis://10.0.0.1:6379',
      DRYDOCK_SCHEDULER_ADDRESS: '10.0.0.1:7702',
      DRYDOCK_REGISTRY_PROXY_URL: 'http://10.0.0.1:5100',
    });
  });
});
