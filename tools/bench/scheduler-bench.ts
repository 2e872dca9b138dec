/**
 * Scheduler benchmark (issue 12, Nomad's C1M rate as the target): a private nats-server with
 * JetStream, N simulated nodes beating into the real `drydock_nodes` bucket (capacities, labels,
 * some down, some drained), the real scheduler process (the built bundle, run as the stack runs
 * it), and M Place requests through its gRPC API with a mix of constraints (node==, labels,
 * globs, regex, !=, soft), affinities (container, image), dependencies (--link) and resources
 * (-m, --cpus, host ports), C in flight. Each placement is committed to the container directory
 * by the scheduler; at the end the directory is read back and checked: every placed request on
 * exactly one node (the one Place answered), every claim pointing there, no node over its
 * capacity. Prints one line and writes results.json under bench-results/scheduler-<timestamp>/.
 *
 *   npm run bench:scheduler                       # 5,000 nodes, 100,000 requests
 *   npm run bench:scheduler -- --smoke            # tiny sizes (npm test)
 *   npm run bench:scheduler -- --nodes 5000 --requests 100000 --concurrency 16 --cpu-prof --out dir
 *   DRYDOCK_NODE_FLAGS="--max-semi-space-size=16" npm run bench:scheduler   # other node flags for the scheduler
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { connect, type KV, type NatsConnection } from 'nats';
import { schedulerV1 } from '@drydock/proto';
import { freePort, tcpAccepts, waitFor } from '@drydock/infra';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS } from '@drydock/runtime';
import { startTestInfra } from '@drydock/testing';

const repo = resolve(__dirname, '../../..');
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const opt = (name: string, full: number, tiny: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : smoke ? tiny : full;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a non-negative number`);
  return v;
};
const cfg = {
  nodes: opt('nodes', 5000, 40),
  requests: opt('requests', 100000, 400),
  warmup: opt('warmup', 2000, 20),
  // calls in flight: at the target rate and a few ms each, 16 keep the scheduler busy; more only queue (p99 grows)
  concurrency: opt('concurrency', 16, 8),
  // share of nodes that stop beating before the run (down) and that are drained
  downPercent: opt('down-percent', 5, 10),
  drainedPercent: opt('drained-percent', 1, 5),
  // the supervisors' beat period; smoke shortens it and the scheduler's down delay to stay quick
  beatMs: opt('beat-ms', 5000, 300),
  downAfterMs: opt('down-after-ms', 8000, 1000),
  seed: opt('seed', 12, 12),
};
const cpuProf = argv.includes('--cpu-prof');
const outArg = argv.indexOf('--out') >= 0 ? argv[argv.indexOf('--out') + 1] : '';
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = resolve(repo, outArg || join('bench-results', smoke ? `scheduler-smoke-${stamp}` : `scheduler-${stamp}`));
const command = `npm run bench:scheduler${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const say = (m: string) => process.stderr.write(`[sbench] ${m}\n`);

/** mulberry32: the same request mix for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(cfg.seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

interface SimNode {
  id: string;
  name: string;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
  down: boolean;
  drained: boolean;
}

const REGIONS = ['us-east', 'us-west', 'eu-west', 'eu-central', 'ap-south'];
const IMAGES = ['nginx:1.25', 'redis:7', 'postgres:16', 'busybox:latest', 'alpine:3.19', 'node:20', 'python:3.12', 'registry.local:5000/team/api:2.3'];

function simNodes(): SimNode[] {
  const out: SimNode[] = [];
  const width = String(cfg.nodes).length;
  for (let i = 0; i < cfg.nodes; i++) {
    const region = REGIONS[i % REGIONS.length];
    const hex = (i + 1).toString(16).padStart(12, '0');
    const labels: Record<string, string> = { region, zone: `${region}-${1 + (i % 3)}${'abc'[i % 3]}`, disk: i % 4 === 0 ? 'hdd' : 'ssd', rack: `r${i % 50}` };
    if (i % 20 === 7) labels.containerslots = '40';
    out.push({
      id: `5bench000-0000-4000-8000-${hex}`,
      name: `node${String(i + 1).padStart(width, '0')}`,
      cpus: [2, 4, 8, 16, 32][i % 5],
      memoryBytes: [4, 8, 16, 32, 64][(i >> 1) % 5] * GiB,
      labels,
      down: false,
      drained: false,
    });
  }
  // down and drained nodes spread over the cluster, never both
  const step = (p: number) => (p > 0 ? Math.max(1, Math.round(100 / p)) : 0);
  const downStep = step(cfg.downPercent);
  const drainStep = step(cfg.drainedPercent);
  out.forEach((n, i) => {
    if (downStep && i % downStep === 3 % downStep) n.down = true;
    else if (drainStep && i % drainStep === 5 % drainStep) n.drained = true;
  });
  return out;
}

function beat(n: SimNode): string {
  return JSON.stringify({
    nodeId: n.id,
    name: n.name,
    labels: n.labels,
    engineLabels: { storagedriver: 'overlay2', kernelversion: '6.1.0', operatingsystem: 'Debian GNU/Linux 12 (bookworm)', ostype: 'linux' },
    cpus: n.cpus,
    memoryBytes: n.memoryBytes,
    cpuUsage: 0,
    memoryUsedBytes: 0,
    containers: { total: 0, running: 0, paused: 0, stopped: 0 },
    supervisorAddress: `${n.name}.bench:7701`,
    time: Date.now(),
  });
}

/** Puts with at most `width` in flight. */
async function putAll(kv: KV, nodes: SimNode[], width = 256): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, nodes.length) }, async () => {
      while (next < nodes.length) {
        const n = nodes[next++];
        await kv.put(n.id, beat(n));
      }
    }),
  );
}

/** The live nodes' beats, each node every beatMs, spread over the period as real supervisors are. */
function startBeating(kv: KV, live: SimNode[]): () => Promise<void> {
  let stopped = false;
  const slices = 10;
  let slice = 0;
  let inflight = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    const part = live.filter((_, i) => i % slices === slice);
    slice = (slice + 1) % slices;
    inflight = inflight.then(() => putAll(kv, part, 32)).catch((err) => void say(`heartbeat failed: ${err}`));
  }, cfg.beatMs / slices);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await inflight;
  };
}

type Client = InstanceType<typeof schedulerV1.SchedulerClient>;
function rpc<Req, Res>(c: Client, method: 'place' | 'listNodes' | 'drainNode', req: Req, deadlineMs = 30000): Promise<Res> {
  return new Promise((res, rej) =>
    (c[method] as unknown as (r: Req, o: object, cb: (e: ServiceError | null, r: Res) => void) => void).call(c, req, { deadline: Date.now() + deadlineMs }, (e, r) =>
      e ? rej(e) : res(r),
    ),
  );
}

interface Kind {
  name: string;
  weight: number;
  make(i: number): Partial<schedulerV1.PlaceRequest>;
}

function requestKinds(nodes: SimNode[], placedNames: () => string | undefined): Kind[] {
  const usable = nodes.filter((n) => !n.down && !n.drained);
  const resources = () => ({
    memoryBytes: String(pick([0, 0, 64, 128, 256, 512]) * MiB),
    nanoCpus: String(pick([0, 0, 0.1, 0.25, 0.5]) * 1e9),
  });
  const target = () => placedNames();
  return [
    { name: 'plain', weight: 20, make: () => resources() },
    { name: 'label==', weight: 12, make: () => ({ env: [`constraint:region==${pick(REGIONS)}`], ...resources() }) },
    { name: 'glob', weight: 8, make: () => ({ env: ['constraint:region==us-*', 'constraint:disk==ssd'], ...resources() }) },
    { name: 'regex', weight: 5, make: () => ({ env: ['constraint:zone==/^(us|eu)-[a-z]+-[12][ab]$/'], ...resources() }) },
    { name: 'node==', weight: 10, make: () => ({ env: [`constraint:node==${pick(usable).name}`] }) },
    { name: '!=', weight: 5, make: () => ({ env: ['constraint:region!=ap-south', 'constraint:disk!=hdd'], ...resources() }) },
    { name: 'soft', weight: 5, make: () => ({ env: ['constraint:region==~mars', 'constraint:disk==~ssd'], ...resources() }) },
    { name: 'label-json', weight: 5, make: () => ({ labels: { 'com.docker.swarm.constraints': JSON.stringify([`region==${pick(REGIONS)}`, 'rack!=r1']) }, ...resources() }) },
    {
      name: 'affinity:container',
      weight: 8,
      make: () => {
        const t = target();
        return t ? { env: [`affinity:container==${t}`] } : {};
      },
    },
    { name: 'affinity:image', weight: 5, make: () => ({ env: [`affinity:image==${pick(['nginx', 'redis', 'postgres'])}`], ...resources() }) },
    { name: 'soft affinity', weight: 3, make: () => ({ env: [`affinity:container!=~${target() ?? 'none'}`], ...resources() }) },
    {
      name: 'host port',
      weight: 12,
      make: () => ({ portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: String(20000 + Math.floor(rand() * 100)) }], ...resources() }),
    },
    {
      name: 'link',
      weight: 2,
      make: () => {
        const t = target();
        return t ? { links: [`${t}:db`] } : {};
      },
    },
  ];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime
}

interface DirEntry {
  memoryBytes: number;
  nanoCpus: number;
  requestId?: string;
}

/** Reads the directory back: every placement once, on the node Place answered, within capacity. */
async function verify(directory: KV, nodes: SimNode[], placed: Map<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const records = new Map<string, { containers: Record<string, DirEntry> }>();
  const claims = new Map<string, string>();
  const w = await directory.watch({ key: '>', initializedFn: () => w.stop() });
  for await (const e of w) {
    if (e.operation !== 'PUT') continue;
    if (e.key.startsWith('node.')) records.set(e.key.slice(5), e.json());
    else if (e.key.startsWith('req.')) claims.set(e.key.slice(4), e.json<{ nodeId: string }>().nodeId);
  }
  const where = new Map<string, string[]>();
  for (const [nodeId, r] of records) for (const id of Object.keys(r.containers)) where.set(id, [...(where.get(id) ?? []), nodeId]);
  for (const [id, nodeId] of placed) {
    const on = where.get(id) ?? [];
    if (on.length !== 1 || on[0] !== nodeId) problems.push(`request ${id}: answered ${nodeId}, directory holds it on [${on.join(', ')}]`);
    if (claims.get(id) !== nodeId) problems.push(`request ${id}: answered ${nodeId}, claim says ${claims.get(id)}`);
  }
  for (const [id, on] of where) if (!placed.has(id)) problems.push(`request ${id} reserved on [${on.join(', ')}] but not answered`);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const [nodeId, r] of records) {
    const n = byId.get(nodeId);
    if (!n) continue;
    const c = Object.values(r.containers);
    const mem = c.reduce((s, x) => s + x.memoryBytes, 0);
    const cpu = c.reduce((s, x) => s + x.nanoCpus, 0);
    // swarm.overcommit 5 %, as the scheduler's default
    if (mem > n.memoryBytes + Math.floor(n.memoryBytes * 0.05)) problems.push(`node ${n.name} overcommitted: ${mem} bytes reserved of ${n.memoryBytes}`);
    if (cpu > (n.cpus + Math.floor(n.cpus * 0.05)) * 1e9) problems.push(`node ${n.name} overcommitted: ${cpu / 1e9} CPUs reserved of ${n.cpus}`);
    if ((n.down || n.drained) && c.length > 0) problems.push(`node ${n.name} is ${n.down ? 'down' : 'drained'} and got ${c.length} placements`);
    const slots = Number(n.labels.containerslots ?? Infinity);
    if (c.length > slots) problems.push(`node ${n.name} holds ${c.length} containers over its ${slots} slots`);
  }
  return problems;
}

async function main(): Promise<void> {
  say(`${cfg.nodes} nodes, ${cfg.warmup} + ${cfg.requests} requests, ${cfg.concurrency} in flight${smoke ? ' (smoke)' : ''}`);
  execFileSync(process.execPath, [join(repo, 'tools/build/build.mjs'), 'scheduler'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const infra = await startTestInfra({ nats: true, name: 'sbench' });
  let child: ChildProcess | undefined;
  let nc: NatsConnection | undefined;
  let stopBeats: (() => Promise<void>) | undefined;
  const clients: Client[] = [];
  try {
    nc = await connect({ servers: infra.nats!.url, name: 'sbench' });
    const js = nc.jetstream();
    // opened as a supervisor opens it (apps/containerd-supervisor/src/node/heartbeat.ts)
    const nodesKv = await js.views.kv('drydock_nodes', { ttl: 15000, history: 1 });
    const nodes = simNodes();
    // the down ones beat once, first, and never again
    await putAll(nodesKv, nodes.filter((n) => n.down));
    const downSince = Date.now();
    const live = nodes.filter((n) => !n.down);
    await putAll(nodesKv, live);
    stopBeats = startBeating(nodesKv, live);
    say(`${nodes.length} heartbeats written (${nodes.length - live.length} stop beating)`);

    const port = await freePort();
    const profDir = join(outDir, 'cpu-prof');
    if (cpuProf) mkdirSync(profDir, { recursive: true });
    // the flags the stack runs services with, unless overridden (as supervisor-bench.ts)
    const nodeFlags = process.env.DRYDOCK_NODE_FLAGS !== undefined ? process.env.DRYDOCK_NODE_FLAGS.split(/\s+/).filter(Boolean) : SERVICE_NODE_FLAGS;
    child = spawn(process.execPath, [...nodeFlags, ...(cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), join(repo, 'dist/apps/scheduler/main.js')], {
      env: {
        PATH: process.env.PATH,
        ...SERVICE_MALLOC_ENV,
        DRYDOCK_NATS_URL: infra.nats!.url,
        DRYDOCK_SCHEDULER_LISTEN: `127.0.0.1:${port}`,
        DRYDOCK_SCHEDULER_NODE_DOWN_AFTER_MS: String(cfg.downAfterMs),
        DRYDOCK_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    await waitFor(() => tcpAccepts(port), 30000, 'scheduler');
    const pid = child.pid!;
    // one channel per 32 calls in flight: a single HTTP/2 connection serialises framing on one socket
    for (let i = 0; i < Math.max(1, Math.ceil(cfg.concurrency / 32)); i++) {
      clients.push(new schedulerV1.SchedulerClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    }
    const c0 = clients[0];
    await waitFor(async () => ((await rpc<object, schedulerV1.ListNodesResponse>(c0, 'listNodes', {})).nodes ?? []).length === nodes.length, 30000, 'every node listed');
    for (const n of nodes.filter((x) => x.drained)) await rpc(c0, 'drainNode', { node: n.name, drain: true });
    const wantDown = nodes.filter((n) => n.down).length;
    await waitFor(
      async () => ((await rpc<object, schedulerV1.ListNodesResponse>(c0, 'listNodes', {})).nodes ?? []).filter((n) => n.status === 'down').length === wantDown,
      cfg.downAfterMs + 30000,
      'down nodes marked down',
    );
    say(`scheduler sees ${nodes.length} nodes, ${wantDown} down (after ${Date.now() - downSince} ms), ${nodes.filter((n) => n.drained).length} drained`);
    const idleRss = procStatus(pid, 'VmRSS');

    const placed = new Map<string, string>();
    const names: string[] = [];
    const kinds = requestKinds(nodes, () => (names.length ? names[Math.floor(rand() * names.length)] : undefined));
    const total = kinds.reduce((s, k) => s + k.weight, 0);
    const chooseKind = () => {
      let x = rand() * total;
      for (const k of kinds) if ((x -= k.weight) < 0) return k;
      return kinds[0];
    };
    const byKind = new Map<string, { n: number; failed: number }>(kinds.map((k) => [k.name, { n: 0, failed: 0 }]));
    const failures: string[] = [];
    const runPhase = async (count: number, offset: number, lat?: Float64Array) => {
      let next = 0;
      let calls = 0;
      await Promise.all(
        Array.from({ length: Math.min(cfg.concurrency, count) }, async () => {
          while (next < count) {
            const i = next++;
            const k = chooseKind();
            const requestId = `b${offset + i}`;
            const name = `c${offset + i}`;
            const req: schedulerV1.PlaceRequest = { requestId, name, image: pick(IMAGES), env: [], labels: {}, ...k.make(i) };
            const t0 = process.hrtime.bigint();
            try {
              const r = await rpc<schedulerV1.PlaceRequest, schedulerV1.PlaceResponse>(clients[calls++ % clients.length], 'place', req);
              if (lat) lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
              placed.set(requestId, r.nodeId!);
              names.push(name);
              byKind.get(k.name)!.n++;
            } catch (err) {
              if (lat) lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
              byKind.get(k.name)!.failed++;
              if (failures.length < 20) failures.push(`${k.name} ${JSON.stringify(req.env ?? [])}: ${(err as ServiceError).details ?? err}`);
            }
          }
        }),
      );
    };
    await runPhase(cfg.warmup, 0);
    say(`warm-up: ${cfg.warmup} requests`);
    for (const v of byKind.values()) v.n = v.failed = 0;
    const okBefore = placed.size;
    const lat = new Float64Array(cfg.requests);
    const natsPid = infra.nats!.pid!;
    const ticks0 = cpuTicks(pid);
    const natsTicks0 = cpuTicks(natsPid);
    const own0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await runPhase(cfg.requests, cfg.warmup, lat);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuSeconds = (cpuTicks(pid) - ticks0) / 100;
    const natsCpuSeconds = (cpuTicks(natsPid) - natsTicks0) / 100;
    const ownCpu = process.cpuUsage(own0);
    const benchCpuSeconds = (ownCpu.user + ownCpu.system) / 1e6;
    const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
    const rss = procStatus(pid, 'VmRSS');
    const hwm = procStatus(pid, 'VmHWM');
    const ok = placed.size - okBefore;
    const sorted = lat.slice().sort();
    const rate = Math.round(ok / seconds);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    say(`${ok} placed, ${cfg.requests - ok} failed in ${seconds.toFixed(2)} s; CPU s: scheduler ${cpuSeconds.toFixed(1)}, nats-server ${natsCpuSeconds.toFixed(1)}, bench ${benchCpuSeconds.toFixed(1)}; load average ${loadavg.join(' ')}`);

    await stopBeats();
    stopBeats = undefined;
    const problems = await verify(await js.views.kv('drydock_containers'), nodes, placed);
    say(problems.length ? `directory check: ${problems.length} problem(s)` : `directory check: ${placed.size} placements, each once, on its node, no node overcommitted`);

    for (const c of clients.splice(0)) c.close();
    child.kill('SIGTERM');
    await exited;
    child = undefined;

    mkdirSync(outDir, { recursive: true });
    writeFileSync(
      join(outDir, 'results.json'),
      JSON.stringify(
        {
          command,
          time: new Date().toISOString(),
          smoke,
          config: cfg,
          machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
          placementsPerSecond: rate,
          seconds,
          placed: ok,
          failed: cfg.requests - ok,
          latencyMs: { p50, p90: percentile(sorted, 90), p99, p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? 0 },
          schedulerRssMb: { idle: idleRss, afterLoad: rss, peak: hwm },
          cpuSeconds: { scheduler: cpuSeconds, natsServer: natsCpuSeconds, benchClient: benchCpuSeconds },
          // the machine is shared: what else ran shows here
          loadAverage: loadavg,
          byKind: Object.fromEntries(byKind),
          failures,
          directoryProblems: problems.slice(0, 50),
          cpuProfileDir: cpuProf ? profDir : undefined,
        },
        null,
        2,
      ),
    );
    say(`written: ${join(outDir, 'results.json')}`);
    if (failures.length) say(`failures (first ${failures.length}):\n  ${failures.join('\n  ')}`);
    console.log(`scheduler: ${rate} placements/s, p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, rss ${rss} MB`);
    if (problems.length) {
      say(problems.slice(0, 20).join('\n'));
      process.exitCode = 1;
    }
  } finally {
    await stopBeats?.().catch(() => undefined);
    for (const c of clients) c.close();
    child?.kill('SIGKILL');
    await nc?.close().catch(() => undefined);
    await infra.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
