// The cluster's plan: addresses, names, directories, ports and every service's environment,
// computed from the arguments alone (no I/O), so that a second run computes the same plan and
// adopts what the first left.
import { join } from 'node:path';
import type { ClusterArgs } from './cluster-args';

/** The shared services' ports on the host bridge address; the address is private to the cluster. */
export const PORTS = { nats: 4222, natsRoutes: 6222, redis: 6379, registryProxy: 5100, scheduler: 7702, supervisor: 7701 } as const;
export const NATS_SERVERS = 3;
/** Node k (0-based) gets host number 11 + k in the /24; .1 is the host's end of the bridge. */
const FIRST_NODE_HOST = 11;

export interface NodePlan {
  name: string;
  /** Position in the address plan (0-based). */
  index: number;
  netns: string;
  /** /run/netns/<netns>, what nsenter --net= takes. */
  netnsPath: string;
  /** The node's address on the host bridge (its eth0). */
  address: string;
  /** The host end of the node's veth pair, enslaved to the bridge. */
  vethHost: string;
  /** DRYDOCK_NETWORK_POOLS: a /20 of its own, split into /24 networks, so no two nodes hand out one address. */
  pool: string;
  /** The supervisor's private network names (bridge, user-bridge prefix, iptables chain prefix) and cgroup parent. */
  bridgeName: string;
  bridgePrefix: string;
  chainPrefix: string;
  cgroupParent: string;
  stateDir: string;
  containerdDir: string;
  gatewaySocket: string;
  supervisorListen: string;
  /** DRYDOCK_NODE_LABELS: key=value,... (the operator's --labels for this node). */
  labels: string;
}

export interface NatsMember {
  name: string;
  port: number;
  routePort: number;
  dir: string;
}

export interface ClusterPlan {
  bridge: string;
  subnet: string;
  /** The host's address on the bridge: the nodes' default gateway and where the shared services listen. */
  hostAddress: string;
  nodes: NodePlan[];
  /** Empty when joining an existing cluster. */
  nats: NatsMember[];
  natsUrls: string[];
  natsReplicas: number;
  /** The scheduler's strategy, given to the scheduler and the gateways (docker info shows it); unset: their default. */
  strategy?: string;
  redisUrl: string;
  redisDir: string;
  schedulerListen: string;
  schedulerAddress: string;
  registryProxyListen: string;
  registryProxyUrl: string;
  registryDir: string;
  stateDir: string;
  /** Pid records of what the tool started. */
  recordsDir: string;
  /** Which subnet and pools were chosen, so later runs keep them (cluster.json). */
  persisted: PersistedPlan;
  /** Whether the shared services (NATS, Redis, scheduler, registry-proxy) run here. */
  shared: boolean;
}

/** What a run writes down and every later run reuses: the address plan. */
export interface PersistedPlan {
  subnet: string;
  pools: string;
  /** Node name -> address index; a renamed or added node takes a free index. */
  indexes: Record<string, number>;
}

const ipv4ToInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);

/** [first, last] addresses of a CIDR. */
export function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits ?? 32));
  const start = Math.floor(ipv4ToInt(ip) / size) * size;
  return [start, start + size - 1];
}

export function overlaps(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}

/**
 * The first candidate subnet and pool that overlap none of the host's routes (`ip route`'s
 * destinations, "default" left out). The nodes' /24 must not shadow a host network; the pools
 * live inside the namespaces but containers could not reach a host network they shadow.
 */
export function chooseRanges(hostRoutes: string[], wanted: { subnet?: string; pools?: string } = {}): { subnet: string; pools: string } {
  const routes = hostRoutes.filter((r) => r !== 'default').map((r) => (r.includes('/') ? r : `${r}/32`));
  const free = (c: string) => !routes.some((r) => overlaps(r, c));
  const subnet = wanted.subnet ?? Array.from({ length: 256 }, (_, i) => `10.213.${i}.0/24`).find(free);
  // 10.214 .. 10.249: above dockerd's 172.17/12 and 192.168 pools, clear of the e2e tests' 10.150-169
  const pools = wanted.pools ?? Array.from({ length: 36 }, (_, i) => `10.${214 + i}.0.0/16`).find((p) => free(p) && !overlaps(p, subnet ?? '0.0.0.0/32'));
  if (!subnet) throw new Error('no free 10.213.x.0/24 for the nodes: pass --subnet');
  if (!pools) throw new Error('no free 10.214-249.0.0/16 for container networks: pass --pools');
  return { subnet, pools };
}

/** Address indexes for `names`: kept from `previous`, new names take the lowest free ones. */
export function assignIndexes(names: string[], previous: Record<string, number> = {}, max = 16): Record<string, number> {
  const out: Record<string, number> = {};
  const used = new Set<number>();
  for (const n of names) if (previous[n] !== undefined && !used.has(previous[n])) (out[n] = previous[n]), used.add(previous[n]);
  // indexes of nodes not started this time stay reserved: their state (and containers) may come back
  for (const [n, i] of Object.entries(previous)) if (!names.includes(n)) used.add(i);
  for (const n of names) {
    if (out[n] !== undefined) continue;
    let i = 0;
    while (used.has(i)) i++;
    if (i >= max) throw new Error(`no address left for node ${n}: at most ${max} nodes per cluster (remove old ones with --down)`);
    out[n] = i;
    used.add(i);
  }
  return out;
}

/** The whole plan for `args` with the chosen ranges and the previous run's indexes. */
export function planCluster(args: ClusterArgs, ranges: { subnet: string; pools: string }, previousIndexes: Record<string, number> = {}): ClusterPlan {
  const base = ranges.subnet.split('.').slice(0, 3).join('.');
  const [pa, pb] = ranges.pools.split('.');
  const hostAddress = `${base}.1`;
  const indexes = assignIndexes(args.names, previousIndexes);
  const shared = !args.join;
  const nodes = args.names.map((name): NodePlan => {
    const index = indexes[name];
    const address = `${base}.${FIRST_NODE_HOST + index}`;
    const stateDir = join(args.stateDir, 'nodes', name);
    const netns = `${args.netnsPrefix}${name}`;
    return {
      name,
      index,
      netns,
      netnsPath: `/run/netns/${netns}`,
      address,
      vethHost: `${args.bridge}v${index + 1}`,
      pool: `${pa}.${pb}.${index * 16}.0/20:24`,
      // Namespaces keep nodes apart already; distinct names keep each node's objects recognisable
      // in `ip`/`iptables` output and keep them apart from `npm start`'s should a node share its namespace.
      bridgeName: `ddn${index + 1}0`,
      bridgePrefix: `ddn${index + 1}-`,
      chainPrefix: `DDN${index + 1}`,
      cgroupParent: `/${netns}`,
      stateDir,
      containerdDir: join(stateDir, 'containerd'),
      gatewaySocket: join(args.runDir, 'nodes', name, 'docker.sock'),
      supervisorListen: `${address}:${PORTS.supervisor}`,
      labels: Object.entries(args.labels[name] ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    };
  });
  const nats: NatsMember[] = shared
    ? Array.from({ length: NATS_SERVERS }, (_, i) => ({ name: `nats-${i + 1}`, port: PORTS.nats + i, routePort: PORTS.natsRoutes + i, dir: join(args.stateDir, 'nats', String(i + 1)) }))
    : [];
  const schedulerListen = `${hostAddress}:${PORTS.scheduler}`;
  const registryProxyListen = `${hostAddress}:${PORTS.registryProxy}`;
  return {
    bridge: args.bridge,
    subnet: ranges.subnet,
    hostAddress,
    nodes,
    nats,
    natsUrls: args.join ? args.join.nats : nats.map((m) => `nats://${hostAddress}:${m.port}`),
    natsReplicas: args.natsReplicas,
    strategy: args.strategy,
    redisUrl: args.join ? args.join.redis : `redis://${hostAddress}:${PORTS.redis}`,
    redisDir: join(args.stateDir, 'redis'),
    schedulerListen,
    schedulerAddress: args.join ? args.join.scheduler : schedulerListen,
    registryProxyListen,
    registryProxyUrl: args.join ? args.join.registryProxy : `http://${registryProxyListen}`,
    registryDir: join(args.stateDir, 'registry'),
    stateDir: args.stateDir,
    recordsDir: join(args.stateDir, 'run'),
    persisted: { subnet: ranges.subnet, pools: ranges.pools, indexes: { ...previousIndexes, ...indexes } },
    shared,
  };
}

/** The binaries every service finds beside the bundles. */
export interface Binaries {
  logger: string;
  dns: string;
}

/** What every service of the cluster gets. */
function commonEnv(p: ClusterPlan): Record<string, string> {
  return {
    DRYDOCK_NATS_URL: p.natsUrls.join(','),
    DRYDOCK_NATS_REPLICAS: String(p.natsReplicas),
    DRYDOCK_REDIS_URL: p.redisUrl,
    DRYDOCK_REGISTRY_PROXY_URL: p.registryProxyUrl,
    DRYDOCK_SCHEDULER_ADDRESS: p.schedulerAddress,
    ...(p.strategy ? { DRYDOCK_SCHEDULER_STRATEGY: p.strategy } : {}),
  };
}

/** A node's supervisor, gateway and builder: its own containerd, address, names, pool and socket, in cluster mode. */
export function nodeEnv(p: ClusterPlan, n: NodePlan, bin: Binaries): Record<string, string> {
  return {
    ...commonEnv(p),
    DRYDOCK_CLUSTER: '1',
    DRYDOCK_NODE_NAME: n.name,
    DRYDOCK_NODE_LABELS: n.labels,
    DRYDOCK_STATE_DIR: n.stateDir,
    DRYDOCK_CONTAINERD_ADDRESS: join(n.containerdDir, 'c.sock'),
    // The node's own address, not loopback: other nodes' gateways and the scheduler call it there,
    // and the heartbeat advertises it.
    DRYDOCK_SUPERVISOR_LISTEN: n.supervisorListen,
    DRYDOCK_SUPERVISOR_ADDRESS: n.supervisorListen,
    DRYDOCK_GATEWAY_SOCKET: n.gatewaySocket,
    DRYDOCK_BRIDGE_NAME: n.bridgeName,
    DRYDOCK_BRIDGE_PREFIX: n.bridgePrefix,
    DRYDOCK_IPTABLES_CHAIN_PREFIX: n.chainPrefix,
    DRYDOCK_NETWORK_POOLS: n.pool,
    DRYDOCK_CGROUP_PARENT: n.cgroupParent,
    // Each node's builder takes only its node's builds (one Redis for all): a build runs where it was sent.
    DRYDOCK_BUILD_QUEUE: `drydock-builds.${n.name}`,
    DRYDOCK_LOGGER_BINARY: bin.logger,
    DRYDOCK_DNS_BINARY: bin.dns,
  };
}

/** The cluster-wide services' environments (host namespace, listening on the bridge address). */
export function sharedEnv(p: ClusterPlan, app: 'scheduler' | 'registry-proxy'): Record<string, string> {
  const env = { ...commonEnv(p), DRYDOCK_STATE_DIR: p.stateDir };
  if (app === 'scheduler') return { ...env, DRYDOCK_SCHEDULER_LISTEN: p.schedulerListen };
  return { ...env, DRYDOCK_REGISTRY_PROXY_LISTEN: p.registryProxyListen, DRYDOCK_REGISTRY_PROXY_DIR: p.registryDir };
}
