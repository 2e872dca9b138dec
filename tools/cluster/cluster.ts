// `npm run cluster -- --nodes 3`: a real N-node Drydock cluster on this machine. Each node is a network
// namespace (<prefix><name>) with its own address on a private host bridge, running its own containerd,
// supervisor, gateway and builder; the host runs a three-server NATS cluster (JetStream replicated x3), Redis,
// the registry-proxy and the scheduler on the bridge address. Every process is under a watchdog
// (tools/stack/supervised.ts, as `npm start`). SIGINT/SIGTERM stop the services and leave the containers
// to their shims; the next run adopts them. `--down` removes everything, containers included.
import { mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import {
  containerdCommand,
  containerdPaths,
  deleteAllContainers,
  dockerPingOk,
  killShimsOf,
  natsServerCommand,
  redisServerCommand,
  requireCommand,
  tcpAccepts,
  unixSocketAnswers,
  unmountAllUnder,
  waitFor,
  writeContainerdConfig,
  type CommandSpec,
  type Watchdog,
} from '@drydock/infra';
import { SERVICE_MALLOC_ENV, serviceNodeFlags } from '@drydock/runtime';
import { LinePrefixer } from '../stack/line-prefix';
import { PidRecords } from '../stack/pid-records';
import { adoptRunningContainerd, builtApps, supervised } from '../stack/supervised';
import { parseClusterArgs, USAGE, type ClusterArgs } from './cluster-args';
import { chooseRanges, nodeEnv, planCluster, PORTS, sharedEnv, type ClusterPlan, type NodePlan, type PersistedPlan } from './cluster-plan';
import { bridgeAddress, HostNetwork, hostRoutes } from './host-network';

// The bundle lives at dist/tools/cluster/cluster.js.
const repoRoot = resolve(__dirname, '../../..');
const READY_TIMEOUT_MS = 120000;
// The supervisors' heartbeat bucket (apps/containerd-supervisor/src/node/heartbeat.ts; tools never import apps).
const NODES_BUCKET = 'drydock_nodes';

const say = new LinePrefixer('[cluster] ', (t) => process.stdout.write(t));
const log = (line: string) => say.push(line + '\n');

function readPersisted(file: string): PersistedPlan | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PersistedPlan;
  } catch {
    return undefined;
  }
}

/** The plan of this run: the ranges and node addresses of earlier runs are kept. */
function makePlan(args: ClusterArgs, previous: PersistedPlan | undefined): ClusterPlan {
  const existing = bridgeAddress(args.bridge);
  const existingSubnet = existing ? `${existing.split('/')[0].split('.').slice(0, 3).join('.')}.0/24` : undefined;
  const wanted = { subnet: args.subnet ?? previous?.subnet ?? existingSubnet, pools: args.pools ?? previous?.pools };
  return planCluster(args, chooseRanges(hostRoutes(), wanted), previous?.indexes);
}

/** A command run inside a node's network namespace; nsenter execs it, so the pid is the service's. */
function inNode(n: NodePlan, spec: CommandSpec): CommandSpec {
  return { ...spec, command: requireCommand('nsenter', 'util-linux'), args: [`--net=${n.netnsPath}`, '--', spec.command, ...spec.args] };
}

/** Heartbeats in the nodes bucket taken since `since`, by node name; the bucket may not exist yet. */
async function beatingNodes(nc: NatsConnection, since: number): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    // The stream's subjects, not kv.keys(): keys() makes a consumer per call, a raft group on a cluster.
    const jsm = await nc.jetstreamManager({ timeout: 3000 });
    const info = await jsm.streams.info(`KV_${NODES_BUCKET}`, { subjects_filter: '>' });
    const kv = await nc.jetstream({ timeout: 3000 }).views.kv(NODES_BUCKET, { bindOnly: true });
    const codec = JSONCodec<{ name: string; time: number }>();
    const prefix = `$KV.${NODES_BUCKET}.`;
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const e = await kv.get(subject.slice(prefix.length));
      if (!e || e.operation !== 'PUT') continue;
      const beat = codec.decode(e.value);
      if (beat.time >= since) names.add(beat.name);
    }
  } catch {
    // not created yet, or NATS between leaders: the next poll sees it
  }
  return names;
}

/** cgroup directories of a parent in every hierarchy (v1 controllers or the v2 tree), deepest first. */
function removeCgroups(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  const remove = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // a process still in it, or not ours to remove
    }
  };
  for (const r of roots) remove(join(r, parent));
}

/** --down: kill every container of every node, stop what runs, remove namespaces, bridge, rules and state. */
async function down(args: ClusterArgs): Promise<void> {
  const previous = readPersisted(join(args.stateDir, 'cluster.json'));
  // every node the cluster ever had, not only those named now
  const names = [...new Set([...(previous ? Object.keys(previous.indexes) : []), ...args.names])];
  const plan = makePlan({ ...args, names }, previous);
  const records = new PidRecords(plan.recordsDir);
  // A running tool would restart what is stopped below: stop it first (it stops its services in order).
  const running = await records.stopLeftover('cluster', 60000);
  if (running) log(`stopped the running cluster tool (pid ${running})`);
  const recorded = existsSync(plan.recordsDir) ? readdirSync(plan.recordsDir).filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4)) : [];
  for (const name of recorded.filter((r) => !r.endsWith('.containerd'))) {
    const pid = await records.stopLeftover(name);
    if (pid) log(`stopped ${name} (pid ${pid})`);
  }
  for (const n of plan.nodes) {
    const paths = containerdPaths(n.containerdDir);
    if (existsSync(paths.config) && existsSync(n.netnsPath)) {
      // containerd knows its containers: ask it to kill and delete them (started for this if need be)
      let started: ReturnType<typeof spawn> | undefined;
      if (!(await unixSocketAnswers(paths.address))) {
        const spec = inNode(n, containerdCommand(paths));
        started = spawn(spec.command, spec.args, { stdio: 'ignore', detached: true });
      }
      try {
        await waitFor(() => unixSocketAnswers(paths.address), 30000, `containerd of ${n.name}`);
        const failures = await deleteAllContainers(paths.address);
        for (const f of failures) log(`${n.name}: could not remove ${f}`);
        log(`${n.name}: containers removed`);
      } catch (err) {
        log(`${n.name}: ${(err as Error).message}; killing its shims instead`);
      }
      started?.kill('SIGTERM');
      await records.stopLeftover(`${n.name}.containerd`);
      if (started) await new Promise((r) => (started!.exitCode !== null ? r(null) : started!.once('exit', r)));
    }
    killShimsOf(paths.address);
    unmountAllUnder(n.stateDir);
    removeCgroups(n.cgroupParent);
    rmSync(join(args.runDir, 'nodes', n.name), { recursive: true, force: true });
  }
  // /run/drydock is npm start's too: only the (now empty) nodes directory goes
  try {
    rmdirSync(join(args.runDir, 'nodes'));
  } catch {
    // absent, or another cluster's nodes are in it
  }
  new HostNetwork(plan, log).down();
  for (const m of plan.nats) unmountAllUnder(m.dir);
  rmSync(args.stateDir, { recursive: true, force: true });
  log(`removed ${plan.nodes.length} node(s), bridge ${plan.bridge}, its rules and ${args.stateDir}`);
}

async function up(args: ClusterArgs): Promise<void> {
  for (const [cmd, pkg] of [['runc', 'runc'], ['containerd-shim-runc-v2', 'containerd'], ['ip', 'iproute2'], ['iptables', 'iptables'], ['nsenter', 'util-linux']]) requireCommand(cmd, pkg);
  const wantedApps = args.join ? ['api-gateway', 'builder', 'containerd-supervisor'] : ['api-gateway', 'builder', 'containerd-supervisor', 'registry-proxy', 'scheduler'];
  const { built } = builtApps(repoRoot);
  const missing = wantedApps.filter((a) => !built.includes(a));
  if (missing.length) throw new Error(`not built: ${missing.join(', ')} (run node tools/build/build.mjs)`);

  mkdirSync(args.stateDir, { recursive: true });
  const persistedFile = join(args.stateDir, 'cluster.json');
  const plan = makePlan(args, readPersisted(persistedFile));
  const records = new PidRecords(plan.recordsDir);
  // Two tools on one state dir would stop and restart each other's children.
  const other = records.leftover('cluster');
  if (other !== undefined && other !== process.pid) throw new Error(`this cluster runs already (pid ${other}); stop it first, or pass another --state-dir`);
  records.record('cluster', process.pid);
  process.once('exit', () => records.forget('cluster'));
  writeFileSync(persistedFile, JSON.stringify(plan.persisted, null, 2) + '\n');
  const bundle = (app: string) => join(repoRoot, 'dist/apps', app, 'main.js');
  const node = process.execPath;
  const bin = { logger: join(repoRoot, 'dist/native/drydock-logger'), dns: join(repoRoot, 'dist/native/drydock-dns') };
  const baseEnv = { ...process.env, ...SERVICE_MALLOC_ENV };
  const app = (name: string, env: Record<string, string>): CommandSpec => ({ command: node, args: [...serviceNodeFlags(name), bundle(name)], env: { ...baseEnv, ...env }, cwd: repoRoot });
  const watch = (name: string, command: () => CommandSpec, record = name, extra?: Parameters<typeof supervised>[2]) => supervised({ name, record, records, log }, command, extra);

  // Shared services: three NATS servers routed to each other, Redis, and the cluster-wide apps.
  const nats = plan.nats.map((m) =>
    watch(m.name, () => natsServerCommand({ storeDir: m.dir, port: m.port, host: plan.hostAddress, cluster: { name: 'drydock', serverName: m.name, port: m.routePort, routes: plan.nats.map((o) => `nats://${plan.hostAddress}:${o.routePort}`) } })),
  );
  const redis = plan.shared ? [watch('redis', () => redisServerCommand({ dir: plan.redisDir, port: PORTS.redis, host: plan.hostAddress, persistent: true }))] : [];
  const sharedApps = plan.shared ? (['registry-proxy', 'scheduler'] as const).map((a) => watch(a, () => app(a, sharedEnv(plan, a)))) : [];
  // Per node: containerd, supervisor, gateway and builder inside its namespace.
  const nodes = plan.nodes.map((n) => {
    const paths = containerdPaths(n.containerdDir);
    const env = nodeEnv(plan, n, bin);
    return {
      plan: n,
      paths,
      containerd: watch(`${n.name}/containerd`, () => inNode(n, containerdCommand(paths)), `${n.name}.containerd`, { beforeSpawn: adoptRunningContainerd(paths.address, `${n.name}/containerd`) }),
      supervisor: watch(`${n.name}/supervisor`, () => inNode(n, app('containerd-supervisor', env)), `${n.name}.supervisor`),
      gateway: watch(`${n.name}/gateway`, () => inNode(n, app('api-gateway', env)), `${n.name}.gateway`),
      builder: watch(`${n.name}/builder`, () => inNode(n, app('builder', env)), `${n.name}.builder`),
    };
  });

  // A run that was SIGKILLed leaves its children behind; containerd is adopted instead.
  const names = [...plan.nats.map((m) => m.name), ...(plan.shared ? ['redis', 'registry-proxy', 'scheduler'] : []), ...plan.nodes.flatMap((n) => [`${n.name}.supervisor`, `${n.name}.gateway`, `${n.name}.builder`])];
  for (const name of names) {
    const pid = await records.stopLeftover(name);
    if (pid) log(`stopped ${name} (pid ${pid}) left running by a previous run`);
  }
  const net = new HostNetwork(plan, log);
  net.up();
  log(`bridge ${plan.bridge} ${plan.hostAddress}/24; nodes ${plan.nodes.map((n) => `${n.name} ${n.address} (netns ${n.netns})`).join(', ')}`);
  if (plan.shared) {
    const ports = [...plan.nats.flatMap((m) => [m.port, m.routePort]), PORTS.redis, PORTS.registryProxy, PORTS.scheduler];
    const taken = [];
    for (const port of ports) if (await tcpAccepts(port, plan.hostAddress)) taken.push(port);
    if (taken.length) throw new Error(`port(s) ${taken.join(', ')} on ${plan.hostAddress} are taken by another process (one listening on every address?)`);
  }
  for (const d of [...plan.nats.map((m) => m.dir), plan.redisDir, plan.registryDir]) if (plan.shared) mkdirSync(d, { recursive: true });
  for (const n of nodes) {
    mkdirSync(n.plan.stateDir, { recursive: true });
    mkdirSync(join(n.plan.gatewaySocket, '..'), { recursive: true });
    writeContainerdConfig(n.paths);
  }

  const infra: Watchdog[] = [...nats, ...redis, ...nodes.map((n) => n.containerd)];
  const clients: Watchdog[] = [...nodes.flatMap((n) => [n.gateway, n.builder]), ...sharedApps];
  let stopping: Promise<void> | undefined;
  const shutdown = (signal: NodeJS.Signals, code: number) => {
    if (stopping) {
      // A second Ctrl-C: no more waiting. Shims (and so containers) are not our children and live on.
      log(`${signal} again: killing what the cluster started`);
      for (const w of [...clients, ...nodes.map((n) => n.supervisor), ...infra]) w.kill('SIGKILL');
      return;
    }
    log(`${signal}: stopping gateways and shared apps, supervisors, nats and redis, then containerd (containers keep running)`);
    stopping = (async () => {
      await Promise.all(clients.map((w) => w.stop('SIGTERM')));
      await Promise.all(nodes.map((n) => n.supervisor.stop('SIGTERM')));
      await Promise.all([...nats, ...redis].map((w) => w.stop('SIGTERM')));
      await Promise.all(
        nodes.map(async (n) => {
          await n.containerd.stop('SIGTERM');
          // an adopted containerd that an earlier (SIGKILLed) run started is ours to stop too
          if (n.containerd.spawnCount === 0) await records.stopLeftover(`${n.plan.name}.containerd`);
        }),
      );
      log('stopped');
      process.exit(code);
    })();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig, 0));

  for (const w of infra) w.start();
  const since = Date.now();
  let nc: NatsConnection | undefined;
  try {
    await Promise.all([
      ...nodes.map((n) => waitFor(() => unixSocketAnswers(n.paths.address), READY_TIMEOUT_MS, `containerd of ${n.plan.name}`)),
      ...(plan.shared ? [waitFor(() => tcpAccepts(PORTS.redis, plan.hostAddress), READY_TIMEOUT_MS, 'redis')] : []),
    ]);
    // JetStream answers once the servers have elected a meta leader, and each stream (a KV bucket is one)
    // once it has a leader again after a restart; services opening them earlier time out and are
    // restarted, so wait for both.
    nc = await connect({ servers: plan.natsUrls, name: 'drydock-cluster', maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true });
    const conn = nc;
    await waitFor(async () => !!(await conn.jetstreamManager({ timeout: 2000 }).then((m) => m.getAccountInfo()).catch(() => undefined)), READY_TIMEOUT_MS, 'JetStream on the NATS cluster', 250);
    await waitFor(async () => {
      try {
        const jsm = await conn.jetstreamManager({ timeout: 2000 });
        for await (const name of jsm.streams.names()) if (!(await jsm.streams.info(name)).cluster?.leader) return false;
        return true;
      } catch {
        return false;
      }
    }, READY_TIMEOUT_MS, 'JetStream streams to have leaders', 250);
  } catch (err) {
    log(`${(err as Error).message}; see the output above`);
    shutdown('SIGTERM', 1);
    return;
  }
  if (stopping) return;
  log(`NATS ${plan.natsUrls.join(',')} (JetStream replicas ${plan.natsReplicas}), Redis ${plan.redisUrl}`);
  // Supervisors first: the gateways call them from their first request.
  for (const n of nodes) n.supervisor.start();
  for (const w of sharedApps) w.start();
  await Promise.all(nodes.map((n) => waitFor(() => tcpAccepts(PORTS.supervisor, n.plan.address), READY_TIMEOUT_MS, `supervisor of ${n.plan.name}`))).catch((err: Error) =>
    log(`${err.message}; starting the gateways anyway`),
  );
  if (stopping) return;
  for (const n of nodes) for (const w of [n.gateway, n.builder]) w.start();

  // Ready: every gateway answers /_ping and every node's heartbeat (taken by this run) is in KV.
  const conn = nc;
  try {
    await waitFor(async () => {
      const pings = await Promise.all(nodes.map((n) => dockerPingOk(n.plan.gatewaySocket)));
      if (!pings.every(Boolean)) return false;
      const beating = await beatingNodes(conn, since - 1000);
      return plan.nodes.every((n) => beating.has(n.name));
    }, READY_TIMEOUT_MS, 'every gateway and heartbeat', 500);
  } catch (err) {
    if (!stopping) log(`${(err as Error).message}; the watchdogs keep trying, see the output above`);
    await conn.close();
    return;
  }
  await conn.close();
  if (stopping) return;
  if (plan.shared) log(`scheduler ${plan.schedulerAddress}, registry ${plan.registryProxyUrl}`);
  for (const n of plan.nodes) log(`${n.name} (${n.address}): export DOCKER_HOST=unix://${n.gatewaySocket}`);
  log(`ready: ${plan.nodes.length} nodes`);
}

async function main(): Promise<void> {
  let args: ClusterArgs;
  try {
    args = parseClusterArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    if (!(err as Error).message.includes('usage:')) process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  if (args.mode === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the cluster runs containerd and network namespaces and must run as root');
  if (args.mode === 'down') return down(args);
  return up(args);
}

main().catch((err: Error) => {
  log(`cannot ${process.argv.includes('--down') ? 'take the cluster down' : 'start'}: ${err.message}`);
  process.exit(1);
});
