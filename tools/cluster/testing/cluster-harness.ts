// The one-machine cluster of `npm run cluster` as the e2e specs start it: the bundled tool with private
// names (netns prefix, bridge, subnet, pools, state and run dirs), so a user's cluster is never touched,
// and the real docker CLI against each node's gateway.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { JSONCodec, type NatsConnection } from 'nats';
import { waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, makeTempDir } from '@drydock/testing';
import { overlaps } from '../cluster-plan';
import { hostRoutes } from '../host-network';

export const root = resolve(__dirname, '../../..');
export const DOCKER = '/usr/local/bin/docker';
export const NODES = ['node1', 'node2', 'node3'];
export const CLUSTER_JS = join(root, 'dist/tools/cluster/cluster.js');
export const run = promisify(execFile);

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ClusterHarness {
  readonly hex = randomBytes(2).toString('hex');
  readonly netnsPrefix = `ddtc${this.hex}-`;
  readonly bridge = `dtc${this.hex}0`;
  dir = '';
  args: string[] = [];
  hostAddress = '';
  tool: ChildProcess | undefined;
  output = '';
  dockerConfig = '';

  /** Builds the bundles, makes the private dirs and busybox.tar, and picks a subnet and pools clear of the host's routes. */
  async setup(): Promise<void> {
    if (!existsSync(DOCKER)) throw new Error(`the docker CLI is missing at ${DOCKER}: source tools/install/ensure-deps.sh && ensure_docker_cli`);
    execFileSync(process.execPath, [join(root, 'tools/build/build.mjs'), 'api-gateway', 'containerd-supervisor', 'scheduler', 'registry-proxy', 'builder', 'cluster'], { stdio: 'ignore' });
    this.dir = await makeTempDir('clus');
    this.dockerConfig = join(this.dir, 'docker-config');
    mkdirSync(this.dockerConfig);
    writeFileSync(join(this.dockerConfig, 'config.json'), '{}\n');
    await buildBusyboxRootfsTar(join(this.dir, 'busybox.tar'));
    // a /24 and a /16 of its own, clear of the host's routes (a user's cluster included) and of npm run cluster's defaults
    const third = randomInt(256);
    const [subnet, pools] = [`10.228.${third}.0/24`, `10.${240 + randomInt(10)}.0.0/16`];
    const clash = hostRoutes().find((r) => overlaps(r.includes('/') ? r : `${r}/32`, subnet));
    if (clash) throw new Error(`${subnet} overlaps the host route ${clash}; rerun`);
    this.hostAddress = `10.228.${third}.1`;
    this.args = ['--nodes', '3', '--state-dir', join(this.dir, 's'), '--run-dir', join(this.dir, 'r'), '--netns-prefix', this.netnsPrefix, '--bridge', this.bridge, '--subnet', subnet, '--pools', pools];
  }

  /** Stops the tool, takes the cluster down (--down kills the containers, removes namespaces, bridge, rules and state) and the dirs. */
  async teardown(): Promise<void> {
    if (this.tool && this.tool.exitCode === null) await this.stop();
    // the services' output, for a failure's post-mortem
    if (process.env.DRYDOCK_CLUSTER_E2E_OUTPUT) writeFileSync(process.env.DRYDOCK_CLUSTER_E2E_OUTPUT, this.output);
    if (this.args.length) {
      const r = await run(process.execPath, [CLUSTER_JS, '--down', ...this.args]).catch((err) => err);
      if (r instanceof Error) console.error(`cluster --down failed: ${r.message}`);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  socket(node: string): string {
    return join(this.dir, 'r/nodes', node, 'docker.sock');
  }

  /** A process the tool recorded (`nats-2`, `node2.supervisor`, ...). */
  recordedPid(name: string): number | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, 's/run', `${name}.pid`), 'utf8')).pid;
    } catch {
      return undefined;
    }
  }

  async docker(node: string, argv: string[], timeoutMs = 60000): Promise<DockerResult> {
    try {
      const r = await run(DOCKER, argv, { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${this.socket(node)}`, DOCKER_CONFIG: this.dockerConfig }, timeout: timeoutMs });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  }

  async ok(node: string, argv: string[]): Promise<string> {
    const r = await this.docker(node, argv);
    if (r.code !== 0) throw new Error(`docker ${argv.join(' ')} on ${node}: ${r.code} ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Starts the tool and waits for `[cluster] ready: 3 nodes`. */
  async start(env: Record<string, string> = {}): Promise<void> {
    this.output = '';
    this.tool = spawn(process.execPath, [CLUSTER_JS, ...this.args], {
      // beats every second with a 5 s age keep the waits short
      env: { ...process.env, DRYDOCK_HEARTBEAT_INTERVAL_MS: '1000', DRYDOCK_HEARTBEAT_TTL_MS: '5000', DRYDOCK_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.tool.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.tool.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const t = this.tool;
    await waitFor(() => {
      if (t.exitCode !== null) throw new Error(`the cluster tool exited with ${t.exitCode}:\n${this.output.slice(-3000)}`);
      return this.output.includes('[cluster] ready: 3 nodes');
    }, 150000, '[cluster] ready: 3 nodes', 100);
  }

  /** Ctrl-C: resolves with the tool's exit code. */
  stop(): Promise<number | null> {
    const t = this.tool!;
    const exited = new Promise<number | null>((r) => (t.exitCode !== null ? r(t.exitCode) : t.once('exit', (code) => r(code))));
    t.kill('SIGINT');
    return exited;
  }

  /**
   * One more scheduler on the cluster's NATS (the tool runs one): two schedulers sweeping and
   * placing at once. Its output joins the tool's; stopped by the caller (SIGTERM).
   */
  startScheduler(env: Record<string, string> = {}): ChildProcess {
    const p = spawn(process.execPath, [join(root, 'dist/apps/scheduler/main.js')], {
      env: { ...process.env, DRYDOCK_NATS_URL: this.natsServers.join(','), DRYDOCK_NATS_REPLICAS: '3', DRYDOCK_SCHEDULER_LISTEN: `${this.hostAddress}:0`, DRYDOCK_HEARTBEAT_TTL_MS: '5000', DRYDOCK_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = (d: Buffer) => (this.output += d.toString().replace(/^(?=.)/gm, '[scheduler-2] '));
    p.stdout!.on('data', prefix);
    p.stderr!.on('data', prefix);
    return p;
  }

  get natsServers(): string[] {
    return [4222, 4223, 4224].map((p) => `nats://${this.hostAddress}:${p}`);
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
