// Issue 12's user-facing promises on the real three-node cluster (`npm run cluster` with private names,
// tools/cluster/cluster-harness.ts), driven with the real docker CLI: deterministic plain runs, Swarm's
// placement expressions and strategies, any gateway as a door to every node, and the failures (scheduler,
// NATS server, supervisor, a node down). One cluster start for the file; the binpack part restarts the
// tool with --strategy binpack at the end (adopting the containers, as a user's second run would).
import { spawn } from 'node:child_process';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { tcpAccepts, waitFor } from '@drydock/infra';
import { ClusterHarness, DOCKER, pidAlive } from './cluster-harness';

const LABELS = 'node2:disk=ssd,node3:disk=hdd,node3:zone=eu-west-1';

interface DirEntry {
  id?: string;
  requestId?: string;
  name?: string;
}

describe('the three-node cluster through the docker CLI', () => {
  const c = new ClusterHarness({ tag: 'cdoor', extraArgs: ['--labels', LABELS] });
  let nc: NatsConnection | undefined;
  const ok = (node: string, argv: string[], timeoutMs?: number) => c.ok(node, argv, timeoutMs);
  const docker = (node: string, argv: string[], timeoutMs?: number) => c.docker(node, argv, timeoutMs);
  const nodeOf = (ref: string, from = 'node1') => ok(from, ['inspect', '-f', '{{.Node.Name}}', ref]);
  /** `docker run -d` from `from`; the node it landed on. */
  const place = async (from: string, name: string, extra: string[], cmd = ['sleep', '1000']) => {
    await ok(from, ['run', '-d', '--name', name, ...extra, 'busybox', ...cmd]);
    return nodeOf(name, from);
  };
  const names = async (from: string, filter: string[] = []) =>
    (await ok(from, ['ps', '-a', ...filter, '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
  const killScheduler = (signal: NodeJS.Signals) => {
    const pid = c.recordedPid('scheduler')!;
    process.kill(pid, signal);
    return pid;
  };
  const schedulerBack = (old: number) => waitFor(async () => ![undefined, old].includes(c.recordedPid('scheduler')) && (await tcpAccepts(7702, c.hostAddress)), 30000, 'the scheduler to be restarted', 100);
  /** Every container entry of every node record in the directory bucket (read through the stream, no consumers). */
  const directory = async (): Promise<Record<string, DirEntry[]>> => {
    // right after a NATS server's loss the streams may still be electing leaders
    let out: Record<string, DirEntry[]> | undefined;
    await waitFor(async () => !!(out = await readDirectory().catch(() => undefined)), 30000, 'the directory bucket to answer', 500);
    return out!;
  };
  const readDirectory = async (): Promise<Record<string, DirEntry[]>> => {
    nc ??= await connect({ servers: c.natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const js = nc.jetstream({ timeout: 5000 });
    const kv = await js.views.kv('drydock_containers', { bindOnly: true });
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    const info = await jsm.streams.info('KV_drydock_containers', { subjects_filter: '$KV.drydock_containers.node.>' });
    const out: Record<string, DirEntry[]> = {};
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const e = await kv.get(subject.slice('$KV.drydock_containers.'.length));
      if (e?.operation !== 'PUT') continue;
      const rec = JSONCodec<{ name?: string; containers: Record<string, DirEntry> }>().decode(e.value);
      out[rec.name ?? subject] = Object.values(rec.containers);
    }
    return out;
  };
  const rmAll = async () => {
    const ids = (await ok('node1', ['ps', '-aq'])).split('\n').filter(Boolean);
    if (ids.length) await ok('node1', ['rm', '-f', ...ids], 120000);
  };

  beforeAll(async () => {
    await c.setUp();
    await c.start();
    await c.importBusybox();
  }, 300000);

  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await c.tearDown();
  }, 120000);

  it('spreads three placed containers over the three nodes (spread is the default)', async () => {
    const placed = [];
    for (const i of [1, 2, 3]) placed.push(await place('node1', `spread${i}`, ['-e', 'constraint:node==node*']));
    expect(placed.sort()).toEqual(c.nodes);
  });

  it('keeps a plain docker run on its node, with the scheduler stopped or killed', async () => {
    const stopped = killScheduler('SIGSTOP');
    try {
      for (const n of c.nodes) {
        expect(await ok(n, ['run', '--rm', 'busybox', 'echo', `plain on ${n}`], 20000)).toBe(`plain on ${n}`);
        expect(await place(n, `plain-stopped-${n}`, [])).toBe(n);
      }
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
    const killed = killScheduler('SIGKILL');
    for (const n of c.nodes) expect(await place(n, `plain-killed-${n}`, [])).toBe(n);
    await schedulerBack(killed);
    const c1 = JSON.parse(await ok('node2', ['inspect', 'plain-killed-node1']))[0];
    expect(c1.Config.Labels['com.docker.swarm.id']).toBeUndefined();
  });

  it('places by node name, node labels, the standard labels, !=, globs and /regex/, in env and in labels', async () => {
    expect(await place('node1', 'c-node3', ['-e', 'constraint:node==node3', '-e', 'KEEP=1'])).toBe('node3');
    const env: string[] = JSON.parse(await ok('node1', ['inspect', '-f', '{{json .Config.Env}}', 'c-node3']));
    expect(env).toContain('KEEP=1');
    expect(env.some((e) => e.startsWith('constraint:'))).toBe(false);
    expect(await place('node3', 'c-ssd', ['-e', 'constraint:disk==ssd'])).toBe('node2');
    expect(await place('node1', 'c-glob', ['-e', 'constraint:disk==h*'])).toBe('node3');
    expect(await place('node2', 'c-regex', ['-e', 'constraint:zone==/^eu-/'])).toBe('node3');
    expect(await place('node1', 'c-ne', ['-e', 'constraint:disk!=ssd', '-e', 'constraint:node!=node1'])).toBe('node3');
    // a node without the label has "" for it: != holds there
    expect(await place('node3', 'c-nolabel', ['-e', 'constraint:disk!=/d/'])).toBe('node1');
    expect(await place('node1', 'c-std', ['-e', 'constraint:ostype==linux', '-e', 'constraint:storagedriver==overlay*', '-e', 'constraint:node==node2'])).toBe('node2');
    const kernel = (await ok('node1', ['info', '-f', '{{.KernelVersion}}'])).trim();
    expect(await place('node1', 'c-kernel', ['-e', `constraint:kernelversion==${kernel.replace(/[^a-z0-9.\-_]/gi, '*')}`, '-e', 'constraint:node==node3'])).toBe('node3');
    expect(await place('node1', 'c-os', ['-e', 'constraint:operatingsystem==*', '-e', 'constraint:node==node2'])).toBe('node2');
    expect(await place('node1', 'c-label', ['--label', 'com.docker.swarm.constraints=["disk==ssd"]'])).toBe('node2');
    const none = await docker('node1', ['run', '-d', '--name', 'c-bados', '-e', 'constraint:operatingsystem==nosuch-os', 'busybox', 'true']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('Unable to find a node that satisfies the following conditions');
    expect(none.stderr).toContain('operatingsystem==nosuch-os');
  });

  it("places by container and image affinity, hard and soft, in env and in labels", async () => {
    const anchor = await place('node1', 'anchor', ['-e', 'constraint:node==node2']);
    expect(anchor).toBe('node2');
    expect(await place('node3', 'a-with', ['-e', 'affinity:container==anchor'])).toBe('node2');
    expect(await place('node3', 'a-glob', ['-e', 'affinity:container==anch*'])).toBe('node2');
    expect(await place('node1', 'a-label', ['--label', 'com.docker.swarm.affinities=["container==anchor"]'])).toBe('node2');
    expect(await place('node1', 'a-not', ['-e', 'affinity:container!=anchor', '-e', 'constraint:node!=node1'])).toBe('node3');
    // soft: no node has it, placed anyway; hard: refused
    expect(c.nodes).toContain(await place('node1', 'a-soft', ['-e', 'affinity:container==~no-such-container']));
    const hard = await docker('node1', ['run', '-d', '--name', 'a-hard', '-e', 'affinity:container==no-such-container', 'busybox', 'true']);
    expect(hard.stderr).toContain('Unable to find a node that satisfies the following conditions');
    expect(hard.stderr).toContain('[container==no-such-container (soft=false)]');
    // an image only node3 has
    await ok('node3', ['tag', 'busybox:latest', 'only-on-3:v1']);
    // node3's next heartbeat carries the new reference
    await waitFor(async () => (await docker('node1', ['run', '--rm', '-e', 'affinity:image==only-on-3:v1', 'busybox', 'true'])).code === 0, 10000, 'node3 to report only-on-3:v1', 500);
    expect(await place('node1', 'a-image', ['-e', 'affinity:image==only-on-3:v1'])).toBe('node3');
    expect(await place('node1', 'a-image-repo', ['-e', 'affinity:image==only-on-3'])).toBe('node3');
  });

  it('spreads -m and --cpus reservations, and says why when no node fits', async () => {
    // each node has the host's memory and CPUs: a reservation of 60 % fits once per node
    const mem = Number(await ok('node1', ['info', '-f', '{{.MemTotal}}']));
    const cpus = Number(await ok('node1', ['info', '-f', '{{.NCPU}}']));
    const big = `${Math.floor((mem * 0.6) / 2 ** 20)}m`;
    const landed = [];
    for (const i of [1, 2, 3]) landed.push(await place('node1', `mem${i}`, ['-m', big, '-e', 'constraint:node==node*']));
    expect(landed.sort()).toEqual(c.nodes);
    const full = await docker('node1', ['run', '-d', '--name', 'mem4', '-m', big, '-e', 'constraint:node==node*', 'busybox', 'true']);
    expect(full.code).not.toBe(0);
    expect(full.stderr).toContain('no resources available to schedule container');
    expect(await names('node1')).not.toContain('mem4');
    await ok('node1', ['rm', '-f', 'mem1', 'mem2', 'mem3']);
    const tooMany = await docker('node2', ['run', '-d', '--cpus', String(cpus * 2), '-e', 'constraint:node==node*', 'busybox', 'true']);
    expect(tooMany.stderr).toContain('no resources available to schedule container');
    expect(await place('node2', 'cpu1', ['--cpus', String(cpus), '-e', 'constraint:disk==ssd'])).toBe('node2');
    const noCpu = await docker('node2', ['run', '-d', '--name', 'cpu2', '--cpus', String(cpus), '-e', 'constraint:disk==ssd', 'busybox', 'true']);
    expect(noCpu.stderr).toContain('no resources available to schedule container');
    expect(await place('node2', 'cpu3', ['--cpus', String(cpus), '-e', 'constraint:disk==*d'])).toBe('node3');
    await ok('node1', ['rm', '-f', 'cpu1', 'cpu3']);
  });

  it('steers a placement away from a node where its published host port is taken', async () => {
    await ok('node1', ['run', '-d', '--name', 'port-a', '-p', '18080:80', 'busybox', 'sleep', '1000']);
    expect(await place('node3', 'port-b', ['-p', '18080:80', '-e', 'constraint:node!=node3'])).toBe('node2');
    const none = await docker('node3', ['run', '-d', '--name', 'port-c', '-p', '18080:80', '-e', 'constraint:node!=node3', 'busybox', 'true']);
    // Swarm's text lists the conditions up to the filter that left no node
    expect(none.stderr).toContain('Unable to find a node that satisfies the following conditions \n[port 18080 (Bridge mode)]\n[available container slots]\n[node!=node3]');
    expect(await names('node1')).not.toContain('port-c');
  });

  it('puts a --link or --network container: dependency beside its target', async () => {
    await ok('node3', ['run', '-d', '--name', 'dep-target', 'busybox', 'sleep', '1000']);
    expect(await place('node1', 'dep-link', ['--link', 'dep-target:t', '-e', 'constraint:node==node*'])).toBe('node3');
    expect(await place('node2', 'dep-net', ['--network', 'container:dep-target', '-e', 'constraint:node==node*'])).toBe('node3');
    const apart = await docker('node1', ['run', '-d', '--name', 'dep-apart', '--link', 'dep-target:t', '-e', 'constraint:node==node1', 'busybox', 'true']);
    expect(apart.stderr).toContain('Unable to find a node that satisfies the following conditions \n[available container slots]\n[--link=dep-target:t]\n[node==node1]');
  });

  it('keeps names unique in the cluster; rm releases a name for any node', async () => {
    const holder = await ok('node1', ['create', '--name', 'uniq', 'busybox']);
    const r = await docker('node2', ['create', '--name', 'uniq', 'busybox']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Conflict. The container name "/uniq" is already in use by container "${holder}"`);
    const placed = await docker('node3', ['create', '--name', 'uniq', '-e', 'constraint:node==node3', 'busybox']);
    expect(placed.stderr).toContain('is already in use');
    expect(await names('node1', ['--filter', 'name=uniq'])).toEqual(['uniq']);
    await ok('node3', ['rm', 'uniq']);
    await ok('node2', ['create', '--name', 'uniq', 'busybox']);
    expect(await nodeOf('uniq', 'node3')).toBe('node2');
  });

  it('answers for any container from any gateway: ids, prefixes, names for logs, exec, inspect, stop, rm; ps, info and events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await ok('node3', ['run', '-d', '--name', 'door3', 'busybox', 'sh', '-c', 'echo from-node3; sleep 1000']);
    await waitFor(async () => (await docker('node1', ['logs', id])).stdout.includes('from-node3'), 10000, 'logs from node1');
    expect(await ok('node2', ['logs', id.slice(0, 7)])).toBe('from-node3');
    expect(await ok('node1', ['exec', 'door3', 'cat', '/proc/1/cmdline'])).toContain('sleep');
    expect(JSON.parse(await ok('node2', ['inspect', id]))[0]).toMatchObject({ Id: id, Name: '/door3', Node: { Name: 'node3', IP: c.nodeAddress(2) } });
    for (const n of c.nodes) {
      expect(await names(n, ['--filter', 'node=node3'])).toContain('door3');
      expect(await names(n, ['--filter', 'node=node1'])).not.toContain('door3');
      expect(await names(n)).toEqual(expect.arrayContaining(['door3', 'plain-killed-node1', 'plain-killed-node2', 'plain-killed-node3']));
    }
    const info = JSON.parse(await ok('node2', ['info', '--format', '{{json .}}']));
    expect(info.SystemStatus.find(([k]: string[]) => k === 'Nodes')[1]).toBe('3');
    const text = await ok('node2', ['info']);
    for (const [i, n] of c.nodes.entries()) expect(text).toContain(`  ${n}: ${c.nodeAddress(i)}:7701\n`);
    expect(text).toMatch(/ node2: \S+\n   └ ID: \S+\n   └ Status: Healthy\n.*\n.*\n.*\n   └ Labels: .*disk=ssd/);
    await ok('node1', ['stop', '-t', '1', id.slice(0, 10)]);
    expect(await ok('node2', ['inspect', '-f', '{{.State.Status}}', 'door3'])).toBe('exited');
    await ok('node2', ['rm', 'door3']);
    const gone = await docker('node3', ['inspect', 'door3']);
    expect(gone.stderr).toContain('No such object: door3');
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = (await ok('node1', ['events', '--since', String(since), '--until', String(until), '--filter', `container=${id}`, '--format', '{{json .}}'])).split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.Action)).toEqual(expect.arrayContaining(['create', 'start', 'stop', 'destroy']));
    expect(events.every((e) => e.Actor.Attributes['node.name'] === 'node3')).toBe(true);
  });

  it('refuses bad input and leaves nothing behind (no name, no container)', async () => {
    const before = await names('node1');
    const cases: [string[], string][] = [
      [['-e', 'constraint:node=node2'], 'One of operator ==, != is expected'],
      [['-e', 'constraint:no de==x'], "Key 'no de' is invalid"],
      [['--label', 'com.docker.swarm.constraints=node==node2'], 'invalid label com.docker.swarm.constraints'],
      [['-e', 'constraint:node==node9'], 'Unable to find a node that satisfies the following conditions'],
      // (the CLI keeps one -e per name, in no fixed order: constraint:node==a -e constraint:node==b reaches the daemon as the last one)
      [['-e', 'constraint:node==node1', '-e', 'constraint:node!=node1'], 'node!=node1'],
      [['-e', 'constraint:disk==ssd', '-e', 'constraint:node==node3'], 'disk==ssd'],
      [['--label', 'com.docker.swarm.constraints=["node==node1","node==node2"]'], '[node==node1 node==node2]'],
    ];
    for (const [extra, text] of cases) {
      const r = await docker('node1', ['run', '-d', '--name', 'bad-input', ...extra, 'busybox', 'true'], 20000);
      expect([extra, r.code !== 0, r.stderr]).toEqual([extra, true, expect.stringContaining(text)]);
    }
    expect(await names('node1')).toEqual(before);
    // the name was never taken: a plain create gets it at once
    await ok('node2', ['create', '--name', 'bad-input', 'busybox']);
    await ok('node2', ['rm', 'bad-input']);
  });

  it('loses no placement and makes none twice when the scheduler is SIGKILLed mid-placement', async () => {
    const N = 9;
    const run = (i: number) => docker(`node${(i % 3) + 1}`, ['run', '-d', '--name', `sk${i}`, '-e', 'constraint:node!=node1', 'busybox', 'sleep', '1000'], 90000);
    // a kill at a random point of a burst, then one with every request surely waiting on the scheduler
    const burst = [0, 1, 2, 3, 4, 5].map(run);
    await new Promise((r) => setTimeout(r, 300));
    let old = killScheduler('SIGKILL');
    const results = await Promise.all(burst);
    await schedulerBack(old);
    old = killScheduler('SIGSTOP');
    const held = [6, 7, 8].map(run);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(old, 'SIGKILL');
    results.push(...(await Promise.all(held)));
    for (const r of results) expect(r).toMatchObject({ code: 0 });
    await schedulerBack(old);
    const listed = (await ok('node1', ['ps', '-a', '--filter', 'name=sk', '--format', '{{.Names}} {{.Label "com.docker.swarm.id"}}'])).split('\n').sort();
    expect(listed.map((l) => l.split(' ')[0])).toEqual(Array.from({ length: N }, (_, i) => `sk${i}`));
    expect(new Set(listed.map((l) => l.split(' ')[1])).size).toBe(N);
    const dir = await directory();
    for (const [i, r] of results.entries()) {
      const id = r.stdout.trim();
      const holders = Object.entries(dir).filter(([, cs]) => cs.some((e) => e.id === id));
      expect([`sk${i}`, holders.map(([n]) => n)]).toEqual([`sk${i}`, [expect.stringMatching(/^node[23]$/)]]);
    }
  });

  it('keeps working when one NATS server is SIGKILLed during placements; nothing acknowledged is lost', async () => {
    const runs = Array.from({ length: 6 }, (_, i) => docker(`node${(i % 3) + 1}`, ['run', '-d', '--name', `nk${i}`, '-e', 'constraint:node==node*', 'busybox', 'sleep', '1000'], 90000));
    await new Promise((r) => setTimeout(r, 300));
    const killed = c.recordedPid('nats-1')!;
    process.kill(killed, 'SIGKILL');
    const during = await Promise.all(runs);
    // after the kill (nats-1 may still be restarting)
    const after = [];
    for (const i of [0, 1, 2]) after.push({ name: `na${i}`, r: await docker(`node${i + 1}`, ['run', '-d', '--name', `na${i}`, '-e', 'constraint:node==node*', 'busybox', 'sleep', '1000'], 90000) });
    for (const a of after) expect(a.r).toMatchObject({ code: 0 });
    const acknowledged = [...during.map((r, i) => ({ name: `nk${i}`, r })), ...after].filter((a) => a.r.code === 0);
    // a create refused while the servers elected new leaders is the client's to retry; most go through
    expect(acknowledged.length).toBeGreaterThanOrEqual(3 + 3);
    await waitFor(async () => ![undefined, killed].includes(c.recordedPid('nats-1')) && (await tcpAccepts(4222, c.hostAddress)), 30000, 'nats-1 to be restarted');
    // (the directory syncs every node's containers on its own: wait for it to have caught up)
    await waitFor(async () => {
      const ids = new Set(Object.values(await directory()).flatMap((cs) => cs.map((e) => e.id)));
      return acknowledged.every((a) => ids.has(a.r.stdout.trim()));
    }, 30000, 'every acknowledged container in the directory', 500);
    const dir = await directory();
    const inDir = new Set(Object.values(dir).flatMap((cs) => cs.map((e) => e.id)));
    for (const a of acknowledged) {
      expect([a.name, inDir.has(a.r.stdout.trim())]).toEqual([a.name, true]);
      expect([a.name, await ok('node2', ['inspect', '-f', '{{.State.Running}}', a.name])]).toEqual([a.name, 'true']);
    }
    // the next tests want every node seen up by every gateway again (heartbeats failed while the streams had no leader)
    await waitFor(async () => (await Promise.all(c.nodes.map((n) => ok(n, ['info'])))).every((t) => (t.match(/└ Status: Healthy/g) ?? []).length === 3), 30000, 'every gateway to see 3 healthy nodes', 500);
  });

  it("restarts a node's supervisor without disturbing a container on it or elsewhere", async () => {
    await ok('node2', ['run', '-d', '--name', 'sv-sleep', 'busybox', 'sleep', '1000']);
    await ok('node2', ['run', '-d', '--name', 'sv-tick', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.3; done']);
    await ok('node3', ['run', '-d', '--name', 'sv-other', 'busybox', 'sleep', '1000']);
    const pid = async (n: string) => Number(await ok('node1', ['inspect', '-f', '{{.State.Pid}}', n]));
    const pids = { sleep: await pid('sv-sleep'), other: await pid('sv-other') };
    let followed = '';
    const follow = spawn(DOCKER, ['logs', '-f', 'sv-tick'], { env: c.dockerEnv('node1') });
    follow.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const ended = new Promise<number | null>((r) => follow.once('exit', (code) => r(code)));
    await waitFor(() => followed.includes('tick3'), 10000, 'logs -f from node1');

    const old = c.recordedPid('node2.supervisor')!;
    process.kill(old, 'SIGKILL');
    await waitFor(async () => ![undefined, old].includes(c.recordedPid('node2.supervisor')) && (await tcpAccepts(7701, c.nodeAddress(1))), 30000, "node2's supervisor to be restarted");
    const seenAtRestart = followed.length;
    // the stream goes on, or ends cleanly (exit 0) and a new one has it all
    await new Promise((r) => setTimeout(r, 3000));
    if (follow.exitCode === null) {
      await waitFor(() => followed.length > seenAtRestart, 10000, 'logs -f to go on after the restart');
      follow.kill('SIGINT');
    } else {
      expect(await ended).toBe(0);
    }
    expect(await pid('sv-sleep')).toBe(pids.sleep);
    expect(pidAlive(pids.sleep)).toBe(true);
    expect(await pid('sv-other')).toBe(pids.other);
    expect(await ok('node3', ['inspect', '-f', '{{.State.Status}}', 'sv-tick'])).toBe('running');
    const ticks = (await ok('node1', ['logs', 'sv-tick'])).split('\n');
    expect(ticks.length).toBeGreaterThan(10);
    expect(ticks.every((t, i) => t === `tick${i + 1}`)).toBe(true);
  });

  it('fails fast with a clear error for a container on a node that is down', async () => {
    await ok('node3', ['run', '-d', '--name', 'on-down', 'busybox', 'sleep', '1000']);
    const sup = c.recordedPid('node3.supervisor')!;
    process.kill(sup, 'SIGSTOP');
    try {
      await waitFor(async () => (await ok('node1', ['info'])).includes('node3: ') && /node3: \S+\n   └ ID: \S+\n   └ Status: Unhealthy/.test(await ok('node1', ['info'])), 20000, 'node3 to be down', 500);
      for (const argv of [['inspect', 'on-down'], ['logs', 'on-down'], ['stop', 'on-down'], ['exec', 'on-down', 'true']]) {
        const r = await docker('node1', argv, 20000);
        expect([argv[0], r.timedOut, r.code !== 0]).toEqual([argv[0], false, true]);
        expect(r.stderr).toContain('container on-down is on node node3, which is down');
        expect(r.ms).toBeLessThan(5000);
      }
      const placed = await docker('node1', ['run', '-d', '-e', 'constraint:node==node3', 'busybox', 'true'], 20000);
      expect(placed.code).not.toBe(0);
      expect(placed.ms).toBeLessThan(5000);
      expect(await ok('node2', ['run', '--rm', 'busybox', 'echo', 'node2 fine'])).toBe('node2 fine');
    } finally {
      process.kill(sup, 'SIGCONT');
    }
    await waitFor(async () => (await docker('node1', ['inspect', '-f', '{{.State.Running}}', 'on-down'])).stdout.trim() === 'true', 20000, 'node3 back');
  });

  it('binpacks -m reservations with --strategy binpack (a second run of the tool adopts the cluster)', async () => {
    await rmAll();
    expect(await c.stop()).toBe(0);
    await c.start(['--labels', LABELS, '--strategy', 'binpack']);
    expect(JSON.parse(await ok('node1', ['info', '--format', '{{json .SystemStatus}}']))).toContainEqual(['Strategy', 'binpack']);
    const mem = Number(await ok('node1', ['info', '-f', '{{.MemTotal}}']));
    // 40 %: two fit on one node, the third goes to another
    const quarter = `${Math.floor((mem * 0.4) / 2 ** 20)}m`;
    const landed = [];
    for (const i of [1, 2, 3]) landed.push(await place('node1', `bp${i}`, ['-m', quarter, '-e', 'constraint:node==node*']));
    expect(landed[1]).toBe(landed[0]);
    expect(landed[2]).not.toBe(landed[0]);
    // without reservations binpack fills the fullest node
    expect(await place('node2', 'bp4', ['-e', 'constraint:node==node*'])).toBe(landed[0]);
  });
});
