// The one-machine cluster as a user starts it (the bundled tool, real containerd x3, nats-server x3,
// redis-server and every app), driven with the real docker CLI: end-to-end, so CI runs it after it has
// installed the CLI. Private names throughout (netns prefix, bridge, subnet, pools, state and run dirs),
// so a user's `npm run cluster` is never touched.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { tcpAccepts, waitFor } from '@drydock/infra';
import { beats as nodeBeats, ClusterHarness, DOCKER, pidAlive as alive } from './cluster-harness';

const NODES = ['node1', 'node2', 'node3'];

describe('npm run cluster (three nodes on one machine)', () => {
  const c = new ClusterHarness({ tag: 'clus' });
  let nc: NatsConnection | undefined;
  const { netnsPrefix, bridge } = c;
  const socket = (node: string) => c.socket(node);
  const recordedPid = (name: string) => c.recordedPid(name);
  const ok = (node: string, argv: string[]) => c.ok(node, argv);
  const start = () => c.start();
  const stop = () => c.stop();

  const beats = () => nodeBeats(nc!);

  beforeAll(() => c.setUp(), 300000);

  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await c.tearDown();
  }, 120000);

  it('starts three nodes, each in its namespace, on a replicated NATS cluster; survives a NATS server loss; Ctrl-C keeps containers, a second run adopts them; --down removes everything', async () => {
    await start();
    for (const n of NODES) expect(c.output).toContain(`export DOCKER_HOST=unix://${socket(n)}`);
    expect(c.output).toMatch(/^\[nats-1\] .*Server is ready/m);
    // a second tool on the same state dir would fight this one's watchdogs
    const second = await c.runTool([]).catch((err: { code: number; stdout: string }) => err);
    expect(second).toMatchObject({ code: 1, stdout: expect.stringContaining(`this cluster runs already (pid ${c.tool!.pid})`) });

    // A container on every node, run from that node's gateway; its shim lives in the node's namespace,
    // a host-network container sees the node's address, a bridged one reaches the host through the node.
    const pids: Record<string, number> = {};
    for (const [i, n] of NODES.entries()) {
      await ok(n, ['import', '-c', 'CMD ["/bin/sh"]', join(c.dir, 'busybox.tar'), 'busybox:latest']);
      await ok(n, ['run', '-d', '--name', `keep-${n}`, 'busybox', 'sleep', '1000']);
      const pid = Number(await ok(n, ['inspect', '-f', '{{.State.Pid}}', `keep-${n}`]));
      pids[n] = pid;
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      expect(readlinkSync(`/proc/${ppid}/ns/net`)).toBe(`net:[${statSync(`/run/netns/${netnsPrefix}${n}`).ino}]`);
      expect(await ok(n, ['run', '--rm', '--network', 'host', 'busybox', 'busybox', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain(`inet 10.228.${c.hostAddress.split('.')[2]}.${11 + i}/24`);
      expect(await ok(n, ['run', '--rm', 'busybox', 'busybox', 'wget', '-q', '-O', '-', `http://${c.hostAddress}:5100/v2/`])).toBe('{}');
    }

    // A build sent to a node runs on that node's builder and leaves its image there.
    mkdirSync(join(c.dir, 'ctx'));
    writeFileSync(join(c.dir, 'ctx/Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
    const build = await promisify(execFile)(DOCKER, ['build', '-q', '-t', 'built-on-3', join(c.dir, 'ctx')], { env: { ...c.dockerEnv('node3'), DOCKER_BUILDKIT: '0' }, timeout: 60000 });
    expect(build.stdout).toMatch(/^sha256:/);
    expect(await ok('node3', ['run', '--rm', 'built-on-3', 'cat', '/built'])).toBe('built');
    expect(await ok('node1', ['images', '-q', 'built-on-3'])).toBe('');

    // Every stream and bucket is replicated on the three servers.
    nc = await connect({ servers: [4222, 4223, 4224].map((p) => `nats://${c.hostAddress}:${p}`), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
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
    await waitFor(async () => ![undefined, killed].includes(recordedPid('nats-2')) && (await tcpAccepts(4223, c.hostAddress)), 30000, 'nats-2 to be restarted');
    expect(c.output).toContain('[cluster] nats-2 was killed by SIGKILL; restarting');
    await nc.close();
    nc = undefined;

    // Ctrl-C: services stop, containers run on.
    const services = ['nats-1', 'redis', 'scheduler', 'node1.supervisor', 'node2.gateway', 'node3.containerd'].map((s) => recordedPid(s)!);
    expect(await stop()).toBe(0);
    expect(c.output).toContain('[cluster] stopped');
    expect(services.filter(alive)).toEqual([]);
    for (const n of NODES) expect(alive(pids[n])).toBe(true);

    // Again: the same namespaces and containerd state, the containers adopted.
    await start();
    for (const n of NODES) {
      expect(await ok(n, ['ps', '--filter', `node=${n}`, '--format', '{{.Names}} {{.Status}}'])).toMatch(new RegExp(`^keep-${n} Up`));
      await ok(n, ['stop', '-t', '1', `keep-${n}`]);
      expect(alive(pids[n])).toBe(false);
    }
    expect(await stop()).toBe(0);

    // --down: namespaces, bridge, rules and state are gone.
    await c.down();
    for (const n of NODES) expect(existsSync(`/run/netns/${netnsPrefix}${n}`)).toBe(false);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(bridge);
    expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(`drydock cluster ${bridge}:`);
    expect(existsSync(join(c.dir, 's'))).toBe(false);
  });
});
