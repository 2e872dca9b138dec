// The one-machine cluster as tests and benches drive it: the bundled tool (dist/tools/cluster/cluster.js)
// started with private names throughout (netns prefix, bridge, subnet, pools, state and run dirs), so a
// user's `npm run cluster` is never touched, and the real docker CLI against each node's gateway.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { JSONCodec, type NatsConnection } from 'nats';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, makeTempDir } from '@drydock/testing';
import { overlaps } from './cluster-plan';
import { hostRoutes } from './host-network';

export const DOCKER = '/usr/local/bin/docker';
const run = promisify(execFile);

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the call. */
  ms: number;
  /** Killed at the deadline. */
  timedOut: boolean;
}

export interface ClusterHarnessOptions {
  /** Short tag in the temp dir's name. */
  tag: string;
  nodes?: number;
  /** More tool options (--labels, --strategy, ...), given to every start. */
  extraArgs?: string[];
  /** The tool's environment over process.env (heartbeats every second with a 5 s age unless given). */
  env?: Record<string, string>;
  /** The apps and tools to build first (default: every app and the cluster tool). */
  build?: string[];
  /** The repository (default: two levels above this file; a bundle elsewhere passes its own). */
  root?: string;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A private cluster: setUp() once, start()/stop() as often as wanted, tearDown() removes it all. */
export class ClusterHarness {
  readonly root: string;
  readonly hex = randomBytes(2).toString('hex');
  readonly netnsPrefix = `ddtc${this.hex}-`;
  readonly bridge = `dtc${this.hex}0`;
  readonly nodes: string[];
  dir = '';
  args: string[] = [];
  hostAddress = '';
  subnetBase = '';
  dockerConfig = '';
  tool?: ChildProcess;
  /** The tool's output since the last start(); allOutput keeps every start's. */
  output = '';
  allOutput = '';

  constructor(private readonly opts: ClusterHarnessOptions) {
    this.root = opts.root ?? resolve(__dirname, '../..');
    this.nodes = Array.from({ length: opts.nodes ?? 3 }, (_, i) => `node${i + 1}`);
  }

  get toolJs(): string {
    return join(this.root, 'dist/tools/cluster/cluster.js');
  }

  socket(node: string): string {
    return join(this.dir, 'r/nodes', node, 'docker.sock');
  }

  /** Where the tool records the pid of a service (nats-2, scheduler, node1.supervisor, ...). */
  recordedPid(name: string): number | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, 's/run', `${name}.pid`), 'utf8')).pid;
    } catch {
      return undefined;
    }
  }

  /** The address node k (0-based) has on the bridge. */
  nodeAddress(i: number): string {
    return `${this.subnetBase}.${11 + i}`;
  }

  get natsUrls(): string[] {
    return [4222, 4223, 4224].map((p) => `nats://${this.hostAddress}:${p}`);
  }

  /** Builds, makes the private dir, a busybox rootfs tar (busybox.tar) and chooses free ranges. */
  async setUp(): Promise<void> {
    if (!existsSync(DOCKER)) throw new Error(`the docker CLI is missing at ${DOCKER}: source tools/install/ensure-deps.sh && ensure_docker_cli`);
    execFileSync(process.execPath, [join(this.root, 'tools/build/build.mjs'), ...(this.opts.build ?? ['api-gateway', 'containerd-supervisor', 'scheduler', 'registry-proxy', 'builder', 'cluster'])], { stdio: 'ignore' });
    this.dir = await makeTempDir(this.opts.tag);
    this.dockerConfig = join(this.dir, 'docker-config');
    mkdirSync(this.dockerConfig);
    writeFileSync(join(this.dockerConfig, 'config.json'), '{}\n');
    await buildBusyboxRootfsTar(join(this.dir, 'busybox.tar'));
    // a /24 and a /16 of its own, clear of the host's routes (a user's cluster included) and of npm run cluster's defaults
    const routes = hostRoutes().map((r) => (r.includes('/') ? r : `${r}/32`));
    for (let attempt = 0; ; attempt++) {
      const third = randomInt(256);
      const [subnet, pools] = [`10.228.${third}.0/24`, `10.${240 + randomInt(10)}.0.0/16`];
      if (routes.some((r) => overlaps(r, subnet) || overlaps(r, pools))) {
        if (attempt > 20) throw new Error('no free 10.228.x.0/24 and 10.24x.0.0/16 for the test cluster');
        continue;
      }
      this.subnetBase = `10.228.${third}`;
      this.hostAddress = `${this.subnetBase}.1`;
      this.args = ['--nodes', String(this.nodes.length), '--state-dir', join(this.dir, 's'), '--run-dir', join(this.dir, 'r'), '--netns-prefix', this.netnsPrefix, '--bridge', this.bridge, '--subnet', subnet, '--pools', pools];
      return;
    }
  }

  /** Starts the tool and waits for `[cluster] ready: N nodes`. */
  async start(extraArgs: string[] = this.opts.extraArgs ?? []): Promise<void> {
    this.output = '';
    const tool = spawn(process.execPath, [this.toolJs, ...this.args, ...extraArgs], {
      // beats every second with a 5 s age keep the waits short
      env: { ...process.env, DRYDOCK_HEARTBEAT_INTERVAL_MS: '1000', DRYDOCK_HEARTBEAT_TTL_MS: '5000', DRYDOCK_LOG_LEVEL: 'warn', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.tool = tool;
    const take = (d: Buffer) => {
      this.output += d.toString();
      this.allOutput += d.toString();
    };
    tool.stdout!.on('data', take);
    tool.stderr!.on('data', take);
    const ready = `[cluster] ready: ${this.nodes.length} nodes`;
    await waitFor(() => {
      if (tool.exitCode !== null) throw new Error(`the cluster tool exited with ${tool.exitCode}:\n${this.output.slice(-3000)}`);
      return this.output.includes(ready);
    }, 150000, ready, 100);
  }

  /** Ctrl-C: the services stop, the containers run on. Resolves to the tool's exit code. */
  async stop(): Promise<number | null> {
    const t = this.tool;
    if (!t) return null;
    const exited = new Promise<number | null>((r) => (t.exitCode !== null ? r(t.exitCode) : t.once('exit', (code) => r(code))));
    t.kill('SIGINT');
    return exited;
  }

  /** The tool once more with this cluster's names (and `extra`), to its end; rejects on a non-zero exit. */
  runTool(extra: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(process.execPath, [this.toolJs, ...this.args, ...extra]);
  }

  /** `--down` with the same names: containers, namespaces, bridge, rules and state removed. */
  async down(): Promise<void> {
    await run(process.execPath, [this.toolJs, '--down', ...this.args]);
  }

  /** Stops the tool, takes the cluster down and removes the private dir; logs what failed, never throws. */
  async tearDown(): Promise<void> {
    if (this.tool && this.tool.exitCode === null) await this.stop();
    // the services' logs, for a failed run (the private dir goes below)
    const keep = process.env.DRYDOCK_CLUSTER_TEST_OUTPUT;
    if (keep) writeFileSync(keep, this.allOutput);
    if (this.args.length) await this.down().catch((err: Error) => console.error(`cluster --down failed: ${err.message}`));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  dockerEnv(node: string): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, DOCKER_HOST: `unix://${this.socket(node)}`, DOCKER_CONFIG: this.dockerConfig };
  }

  /** The docker CLI against a node's gateway; never throws. */
  async docker(node: string, argv: string[], timeoutMs = 60000): Promise<DockerResult> {
    const t0 = performance.now();
    try {
      const r = await run(DOCKER, argv, { env: this.dockerEnv(node), timeout: timeoutMs, maxBuffer: 16 << 20 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0, timedOut: false };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string; killed?: boolean; signal?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), ms: performance.now() - t0, timedOut: !!e.killed && e.signal === 'SIGTERM' };
    }
  }

  /** The docker CLI's trimmed stdout; throws with its stderr when it fails. */
  async ok(node: string, argv: string[], timeoutMs = 60000): Promise<string> {
    const r = await this.docker(node, argv, timeoutMs);
    if (r.code !== 0) throw new Error(`docker ${argv.join(' ')} on ${node}: ${r.code} ${r.stderr}`);
    return r.stdout.trim();
  }

  /** busybox:latest imported on every node (no registry needed). */
  async importBusybox(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.ok(n, ['import', '-c', 'CMD ["/bin/sh"]', join(this.dir, 'busybox.tar'), 'busybox:latest'])));
  }

  /**
   * One more scheduler on the cluster's NATS (the tool runs one): two schedulers sweeping and
   * placing at once. Its output joins the tool's; stopped by the caller (SIGTERM).
   */
  startScheduler(env: Record<string, string> = {}): ChildProcess {
    const p = spawn(process.execPath, [join(this.root, 'dist/apps/scheduler/main.js')], {
      env: { ...process.env, DRYDOCK_NATS_URL: this.natsUrls.join(','), DRYDOCK_NATS_REPLICAS: '3', DRYDOCK_SCHEDULER_LISTEN: `${this.hostAddress}:0`, DRYDOCK_HEARTBEAT_TTL_MS: '5000', DRYDOCK_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = (d: Buffer) => (this.output += d.toString().replace(/^(?=.)/gm, '[scheduler-2] '));
    p.stdout!.on('data', prefix);
    p.stderr!.on('data', prefix);
    return p;
  }
}

/** The newest heartbeat time of each node in the nodes bucket. */
export async function beats(nc: NatsConnection): Promise<Record<string, number>> {
  const kv = await nc.jetstream({ timeout: 3000 }).views.kv('drydock_nodes', { bindOnly: true });
  const jsm = await nc.jetstreamManager({ timeout: 3000 });
  const info = await jsm.streams.info('KV_drydock_nodes', { subjects_filter: '>' });
  const out: Record<string, number> = {};
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const e = await kv.get(subject.slice('$KV.drydock_nodes.'.length));
    if (e?.operation === 'PUT') {
      const b = JSONCodec<{ name: string; time: number }>().decode(e.value);
      out[b.name] = Math.max(out[b.name] ?? 0, b.time);
    }
  }
  return out;
}
