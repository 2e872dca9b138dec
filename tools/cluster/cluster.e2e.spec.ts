// The one-machine cluster as a user starts it (the bundled tool, real containerd x3, nats-server x3,
// redis-server and every app), driven with the real docker CLI: end-to-end, so CI runs it after it has
// installed the CLI. Private names throughout (netns prefix, bridge, subnet, pools, state and run dirs),
// so a user's `npm run cluster` is never touched.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { tcpAccepts, waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, makeTempDir } from '@drydock/testing';
import { overlaps } from './cluster-plan';
import { hostRoutes } from './host-network';

const root = resolve(__dirname, '../..');
const DOCKER = '/usr/local/bin/docker';
const NODES = ['node1', 'node2', 'node3'];
const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run cluster (three nodes on one machine)', () => {
  const hex = randomBytes(2).toString('hex');
  const netnsPrefix = `ddtc${hex}-`;
  const bridge = `dtc${hex}0`;
  let dir = '';
  let args: string[] = [];
  let hostAddress = '';
  let tool: ChildProcess | undefined;
  let output = '';
  let dockerConfig = '';
  let nc: NatsConnection | undefined;

  const socket = (node: string) => join(dir, 'r/nodes', node, 'docker.sock');
  const recordedPid = (name: string): number | undefined => {
    try {
      return JSON.parse(readFileSync(join(dir, 's/run', `${name}.pid`), 'utf8')).pid;
    } catch {
      return undefined;
    }
  };
  const docker = async (node: string, argv: string[], timeoutMs = 60000) => {
    try {
      const r = await run(DOCKER, argv, { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket(node)}`, DOCKER_CONFIG: dockerConfig }, timeout: timeoutMs });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  };
  const ok = async (node: string, argv: string[]) => {
    const r = await docker(node, argv);
    if (r.code !== 0) throw new Error(`docker ${argv.join(' ')} on ${node}: ${r.code} ${r.stderr}`);
    return r.stdout.trim();
  };

  const start = async () => {
    output = '';
    tool = spawn(process.execPath, [join(root, 'dist/tools/cluster/cluster.js'), ...args], {
      // beats every second with a 5 s age keep the waits short
      env: { ...process.env, DRYDOCK_HEARTBEAT_INTERVAL_MS: '1000', DRYDOCK_HEARTBEAT_TTL_MS: '5000', DRYDOCK_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tool.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    tool.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const t = tool;
    await waitFor(() => {
      if (t.exitCode !== null) throw new Error(`the cluster tool exited with ${t.exitCode}:\n${output.slice(-3000)}`);
      return output.includes('[cluster] ready: 3 nodes');
    }, 150000, '[cluster] ready: 3 nodes', 100);
  };
  const stop = async () => {
    const t = tool!;
    const exited = new Promise<number | null>((r) => (t.exitCode !== null ? r(t.exitCode) : t.once('exit', (code) => r(code))));
    t.kill('SIGINT');
    return exited;
  };

  /** The newest heartbeat time of each node in the nodes bucket. */
  const beats = async (): Promise<Record<string, number>> => {
    const kv = await nc!.jetstream({ timeout: 3000 }).views.kv('drydock_nodes', { bindOnly: true });
    const jsm = await nc!.jetstreamManager({ timeout: 3000 });
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
  };

  beforeAll(async () => {
    if (!existsSync(DOCKER)) throw new Error(`the docker CLI is missing at ${DOCKER}: source tools/install/ensure-deps.sh && ensure_docker_cli`);
    execFileSync(process.execPath, [join(root, 'tools/build/build.mjs'), 'api-gateway', 'containerd-supervisor', 'scheduler', 'registry-proxy', 'builder', 'cluster'], { stdio: 'ignore' });
    dir = await makeTempDir('clus');
    dockerConfig = join(dir, 'docker-config');
    mkdirSync(dockerConfig);
    writeFileSync(join(dockerConfig, 'config.json'), '{}\n');
    await buildBusyboxRootfsTar(join(dir, 'busybox.tar'));
    // a /24 and a /16 of its own, clear of the host's routes (a user's cluster included) and of npm run cluster's defaults
    const third = randomInt(256);
    const [subnet, pools] = [`10.228.${third}.0/24`, `10.${240 + randomInt(10)}.0.0/16`];
    const clash = hostRoutes().find((r) => overlaps(r.includes('/') ? r : `${r}/32`, subnet));
    if (clash) throw new Error(`${subnet} overlaps the host route ${clash}; rerun`);
    hostAddress = `10.228.${third}.1`;
    args = ['--nodes', '3', '--state-dir', join(dir, 's'), '--run-dir', join(dir, 'r'), '--netns-prefix', netnsPrefix, '--bridge', bridge, '--subnet', subnet, '--pools', pools];
  }, 300000);

  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    if (tool && tool.exitCode === null) await stop();
    if (args.length) {
      // --down kills the containers and removes the namespaces, bridge, rules and state
      const r = await run(process.execPath, [join(root, 'dist/tools/cluster/cluster.js'), '--down', ...args]).catch((err) => err);
      if (r instanceof Error) console.error(`cluster --down failed: ${r.message}`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120000);

  it('starts three nodes, each in its namespace, on a replicated NATS cluster; survives a NATS server loss; Ctrl-C keeps containers, a second run adopts them; --down removes everything', async () => {
    await start();
    for (const n of NODES) expect(output).toContain(`export DOCKER_HOST=unix://${socket(n)}`);
    expect(output).toMatch(/^\[nats-1\] .*Server is ready/m);
    // a second tool on the same state dir would fight this one's watchdogs
    const second = await run(process.execPath, [join(root, 'dist/tools/cluster/cluster.js'), ...args]).catch((err: { code: number; stdout: string }) => err);
    expect(second).toMatchObject({ code: 1, stdout: expect.stringContaining(`this cluster runs already (pid ${tool!.pid})`) });

    // A container on every node, run from that node's gateway; its shim lives in the node's namespace,
    // a host-network container sees the node's address, a bridged one reaches the host through the node.
    const pids: Record<string, number> = {};
    for (const [i, n] of NODES.entries()) {
      await ok(n, ['import', '-c', 'CMD ["/bin/sh"]', join(dir, 'busybox.tar'), 'busybox:latest']);
      await ok(n, ['run', '-d', '--name', `keep-${n}`, 'busybox', 'sleep', '1000']);
      const pid = Number(await ok(n, ['inspect', '-f', '{{.State.Pid}}', `keep-${n}`]));
      pids[n] = pid;
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      expect(readlinkSync(`/proc/${ppid}/ns/net`)).toBe(`net:[${statSync(`/run/netns/${netnsPrefix}${n}`).ino}]`);
      expect(await ok(n, ['run', '--rm', '--network', 'host', 'busybox', 'busybox', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain(`inet 10.228.${hostAddress.split('.')[2]}.${11 + i}/24`);
      expect(await ok(n, ['run', '--rm', 'busybox', 'busybox', 'wget', '-q', '-O', '-', `http://${hostAddress}:5100/v2/`])).toBe('{}');
    }

    // A build sent to a node runs on that node's builder and leaves its image there.
    mkdirSync(join(dir, 'ctx'));
    writeFileSync(join(dir, 'ctx/Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
    const build = await run(DOCKER, ['build', '-q', '-t', 'built-on-3', join(dir, 'ctx')], { env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket('node3')}`, DOCKER_CONFIG: dockerConfig, DOCKER_BUILDKIT: '0' }, timeout: 60000 });
    expect(build.stdout).toMatch(/^sha256:/);
    expect(await ok('node3', ['run', '--rm', 'built-on-3', 'cat', '/built'])).toBe('built');
    expect(await ok('node1', ['images', '-q', 'built-on-3'])).toBe('');

    // Every stream and bucket is replicated on the three servers.
    nc = await connect({ servers: [4222, 4223, 4224].map((p) => `nats://${hostAddress}:${p}`), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    const streams: Record<string, number> = {};
    for await (const s of jsm.streams.list()) streams[s.config.name] = s.config.num_replicas;
    expect(streams).toMatchObject({ KV_drydock_nodes: 3, KV_drydock_containers: 3, DRYDOCK_EVENTS: 3 });
    expect(Object.values(streams).every((r) => r === 3)).toBe(true);
    expect(Object.keys(await beats()).sort()).toEqual(NODES);

    // SIGKILL one NATS server: the watchdog restarts it, heartbeats and docker run go on meanwhile.
    const killed = recordedPid('nats-2')!;
    process.kill(killed, 'SIGKILL');
    const after = Date.now();
    for (const n of NODES) expect(await ok(n, ['run', '--rm', 'busybox', 'echo', `on ${n}`])).toBe(`on ${n}`);
    await waitFor(async () => Object.values(await beats().catch(() => ({}))).filter((t) => t > after).length === 3, 30000, 'every node to beat after the kill', 250);
    await waitFor(async () => ![undefined, killed].includes(recordedPid('nats-2')) && (await tcpAccepts(4223, hostAddress)), 30000, 'nats-2 to be restarted');
    expect(output).toContain('[cluster] nats-2 was killed by SIGKILL; restarting');
    await nc.close();
    nc = undefined;

    // Ctrl-C: services stop, containers run on.
    const services = ['nats-1', 'redis', 'scheduler', 'node1.supervisor', 'node2.gateway', 'node3.containerd'].map((s) => recordedPid(s)!);
    expect(await stop()).toBe(0);
    expect(output).toContain('[cluster] stopped');
    expect(services.filter(alive)).toEqual([]);
    for (const n of NODES) expect(alive(pids[n])).toBe(true);

    // Again: the same namespaces and containerd state, the containers adopted.
    await start();
    for (const n of NODES) {
      // every gateway lists the whole cluster: this node's own containers are the ones the node filter keeps
      expect(await ok(n, ['ps', '--filter', `node=${n}`, '--format', '{{.Names}} {{.Status}}'])).toMatch(new RegExp(`^keep-${n} Up`));
      await ok(n, ['stop', '-t', '1', `keep-${n}`]);
      expect(alive(pids[n])).toBe(false);
    }
    expect(await stop()).toBe(0);

    // --down: namespaces, bridge, rules and state are gone.
    await run(process.execPath, [join(root, 'dist/tools/cluster/cluster.js'), '--down', ...args]);
    for (const n of NODES) expect(existsSync(`/run/netns/${netnsPrefix}${n}`)).toBe(false);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(bridge);
    expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(`drydock cluster ${bridge}:`);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });
});
