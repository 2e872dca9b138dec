// `npm run cluster -- [options]`: the command line of the one-machine cluster, parsed and validated
// in one place (every bad option reported at once).
import { isAbsolute } from 'node:path';
import { parseArgs } from 'node:util';

export const MAX_NODES = 16;

export interface JoinTarget {
  /** The existing cluster's NATS servers. */
  nats: string[];
  redis: string;
  /** host:port of a scheduler, and the registry-proxy's URL. */
  scheduler: string;
  registryProxy: string;
}

export interface ClusterArgs {
  /** up: start (or adopt) the cluster; down: stop it, kill its containers and remove what it made. */
  mode: 'up' | 'down' | 'help';
  /** Node names, in address order. */
  names: string[];
  /** Where the cluster keeps its state (containerd roots, NATS stores, registry, pid records). */
  stateDir: string;
  /** Gateway sockets go to <runDir>/nodes/<name>/docker.sock. */
  runDir: string;
  /** Network namespace of a node: <netnsPrefix><name>. */
  netnsPrefix: string;
  /** The host bridge the nodes' namespaces hang off. */
  bridge: string;
  /** The nodes' /24 (x.y.z.0/24); chosen from free ranges when omitted. */
  subnet?: string;
  /** A /16 split into one /20 of container networks per node; chosen when omitted. */
  pools?: string;
  /** Start only the nodes, against an existing cluster's NATS, Redis, scheduler and registry-proxy. */
  join?: JoinTarget;
  /** JetStream replicas of streams and buckets (3 with the cluster's own three NATS servers). */
  natsReplicas: number;
  /** Operator labels per node name (DRYDOCK_NODE_LABELS of its supervisor), for placement constraints. */
  labels: Record<string, Record<string, string>>;
  /** The scheduler's strategy (DRYDOCK_SCHEDULER_STRATEGY of the scheduler and the gateways); unset keeps the environment's or spread. */
  strategy?: 'spread' | 'binpack' | 'random';
}

export const USAGE = `usage: npm run cluster -- [options]
  --nodes N              number of nodes (default 3, at most ${MAX_NODES}), named node1..nodeN
  --names a,b,c          node names instead (lower-case letters, digits, - and _)
  --down                 stop the cluster, kill its containers, remove its namespaces, bridge, rules and state
  --state-dir DIR        state (default /var/lib/drydock/cluster)
  --run-dir DIR          gateway sockets go to DIR/nodes/<name>/docker.sock (default /run/drydock)
  --netns-prefix P       node namespaces are named P<name> (default drydock-)
  --bridge NAME          the host bridge (default ddclus0)
  --subnet X.Y.Z.0/24    the nodes' addresses (default: a free 10.213.x.0/24)
  --pools A.B.0.0/16     container networks, one /20 per node (default: a free 10.x.0.0/16)
  --join NATS_URLS       start only the nodes, against an existing cluster: its NATS servers (comma-separated),
     --redis URL --scheduler HOST:PORT --registry-proxy URL   and its other shared services
  --nats-replicas N      replicas of JetStream streams and KV buckets (default 3; 1..5)
  --labels NODE:K=V,...  operator labels of nodes, for -e constraint:K==V (e.g. node2:disk=ssd,node3:disk=hdd)
  --strategy S           the scheduler's strategy: spread (default), binpack or random`;

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const SUBNET24 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/;
const POOL16 = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/;
const octets = (m: RegExpMatchArray | null) => !!m && m.slice(1).every((o) => Number(o) <= 255);

/** Parses `argv` (what follows `npm run cluster --`); throws one Error listing every problem. */
export function parseClusterArgs(argv: string[]): ClusterArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      nodes: { type: 'string' },
      names: { type: 'string' },
      down: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'state-dir': { type: 'string' },
      'run-dir': { type: 'string' },
      'netns-prefix': { type: 'string' },
      bridge: { type: 'string' },
      subnet: { type: 'string' },
      pools: { type: 'string' },
      join: { type: 'string' },
      redis: { type: 'string' },
      scheduler: { type: 'string' },
      'registry-proxy': { type: 'string' },
      'nats-replicas': { type: 'string' },
      labels: { type: 'string' },
      strategy: { type: 'string' },
    },
  });
  const problems: string[] = [];
  if (positionals.length) problems.push(`unexpected argument(s): ${positionals.join(' ')}`);

  let names: string[] = [];
  const count = values.nodes === undefined ? undefined : Number(values.nodes);
  if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > MAX_NODES)) problems.push(`--nodes must be a whole number from 1 to ${MAX_NODES}`);
  if (values.names !== undefined) {
    names = values.names.split(',').map((n) => n.trim());
    const bad = names.filter((n) => !NAME.test(n));
    if (bad.length) problems.push(`--names: ${bad.map((n) => JSON.stringify(n)).join(', ')} (a name is 1-32 lower-case letters, digits, - or _)`);
    const dup = names.filter((n, i) => names.indexOf(n) !== i);
    if (dup.length) problems.push(`--names: ${[...new Set(dup)].join(', ')} given twice`);
    if (names.length > MAX_NODES) problems.push(`--names: at most ${MAX_NODES} nodes`);
    if (count !== undefined && count !== names.length) problems.push(`--nodes ${count} but --names gives ${names.length}`);
  } else if (count !== undefined && Number.isInteger(count) && count >= 1 && count <= MAX_NODES) {
    names = Array.from({ length: count }, (_, i) => `node${i + 1}`);
  } else if (count === undefined) {
    names = ['node1', 'node2', 'node3'];
  }

  const dir = (flag: string, v: string | undefined, def: string) => {
    if (v === undefined) return def;
    if (!isAbsolute(v)) problems.push(`${flag} must be an absolute path`);
    return v.replace(/\/+$/, '') || '/';
  };
  const stateDir = dir('--state-dir', values['state-dir'], '/var/lib/drydock/cluster');
  const runDir = dir('--run-dir', values['run-dir'], '/run/drydock');
  // 108 bytes is the unix socket limit; the longest name decides.
  const longest = Math.max(0, ...names.map((n) => Buffer.byteLength(n)));
  if (Buffer.byteLength(`${runDir}/nodes/`) + longest + '/docker.sock'.length >= 108) problems.push('--run-dir is too long for the gateway sockets (unix sockets take 107 bytes)');
  if (Buffer.byteLength(`${stateDir}/nodes/`) + longest + '/containerd/c.sock.ttrpc'.length >= 108) problems.push('--state-dir is too long for the containerd sockets (unix sockets take 107 bytes)');

  const netnsPrefix = values['netns-prefix'] ?? 'drydock-';
  if (!/^[A-Za-z0-9_.-]{0,32}$/.test(netnsPrefix)) problems.push('--netns-prefix: letters, digits, ., - and _ only');
  const bridge = values.bridge ?? 'ddclus0';
  // the nodes' host-side veths are <bridge>v<n> and interface names take 15 bytes
  if (!/^[A-Za-z0-9_-]{1,10}$/.test(bridge)) problems.push('--bridge: 1-10 letters, digits, - or _');
  if (values.subnet !== undefined && !octets(values.subnet.match(SUBNET24))) problems.push('--subnet must be a /24 written X.Y.Z.0/24');
  if (values.pools !== undefined && !octets(values.pools.match(POOL16))) problems.push('--pools must be a /16 written A.B.0.0/16');

  let join: JoinTarget | undefined;
  const joinOnly = ['redis', 'scheduler', 'registry-proxy'] as const;
  if (values.join !== undefined) {
    const nats = values.join.split(',').map((s) => s.trim());
    if (!nats.every((s) => /^(nats|tls):\/\/[^\s,/]+$/.test(s))) problems.push('--join takes NATS URLs, comma-separated (nats://host:4222,...)');
    const missing = joinOnly.filter((k) => values[k] === undefined);
    if (missing.length) problems.push(`--join needs ${missing.map((k) => `--${k}`).join(', ')} too`);
    if (values.redis !== undefined && !/^rediss?:\/\/\S+$/.test(values.redis)) problems.push('--redis must be a redis:// URL');
    if (values.scheduler !== undefined && !/^[^\s:/]+:\d+$/.test(values.scheduler)) problems.push('--scheduler must be host:port');
    if (values['registry-proxy'] !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(values['registry-proxy'])) problems.push('--registry-proxy must be http(s)://host:port');
    join = { nats, redis: values.redis ?? '', scheduler: values.scheduler ?? '', registryProxy: (values['registry-proxy'] ?? '').replace(/\/$/, '') };
  } else {
    const stray = joinOnly.filter((k) => values[k] !== undefined);
    if (stray.length) problems.push(`${stray.map((k) => `--${k}`).join(', ')} only go with --join`);
  }
  const natsReplicas = values['nats-replicas'] === undefined ? 3 : Number(values['nats-replicas']);
  if (!Number.isInteger(natsReplicas) || natsReplicas < 1 || natsReplicas > 5) problems.push('--nats-replicas must be 1 to 5');

  // NODE:KEY=VALUE items: the supervisor's DRYDOCK_NODE_LABELS takes key=value,... and refuses ',' in values
  const labels: Record<string, Record<string, string>> = {};
  for (const item of (values.labels ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = item.match(/^([^:=\s]+):([^\s=,]+)=([^,]*)$/);
    if (!m) {
      problems.push(`--labels: ${JSON.stringify(item)} (expected NODE:KEY=VALUE)`);
      continue;
    }
    const [, node, key, value] = m;
    if (!names.includes(node)) problems.push(`--labels: no node ${node} in this cluster`);
    else if (labels[node]?.[key] !== undefined && labels[node][key] !== value) problems.push(`--labels: ${node}:${key} given two values`);
    else (labels[node] ??= {})[key] = value;
  }
  const strategies = ['spread', 'binpack', 'random'] as const;
  const strategy = values.strategy as ClusterArgs['strategy'];
  if (strategy !== undefined && !strategies.includes(strategy)) problems.push('--strategy must be spread, binpack or random');

  if (problems.length) throw new Error(`${problems.join('\n')}\n${USAGE}`);
  return {
    mode: values.help ? 'help' : values.down ? 'down' : 'up',
    names,
    stateDir,
    runDir,
    netnsPrefix,
    bridge,
    subnet: values.subnet,
    pools: values.pools,
    join,
    natsReplicas,
    labels,
    strategy,
  };
}
