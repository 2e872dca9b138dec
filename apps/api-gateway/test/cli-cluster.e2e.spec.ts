// Two real nodes (containerd, supervisor, gateway each) sharing one NATS, and the scheduler: the
// docker CLI against node A's gateway reaches the whole cluster.
import { connect } from 'nats';
import { claimKey, DIRECTORY_BUCKET, getJson, nodeKey, type NodeRecord, type PlacedContainer, type PlacementClaim } from '@drydock/cluster';
import { waitFor } from '@drydock/infra';
import { ClusterStack } from './support/cluster-stack';

jest.setTimeout(120000);

const stack = new ClusterStack();
beforeAll(() => stack.setup(), 240000);
afterAll(() => stack.teardown(), 60000);

const A = () => stack.nodes[0];
const B = () => stack.nodes[1];
const ok = (r: { code: number | null; stdout: string; stderr: string }) => {
  if (r.code !== 0) throw new Error(`docker exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
};
const inspect = async (ref: string) => JSON.parse(ok(await stack.docker(A(), ['inspect', ref])))[0];

describe('a gateway as a door to the cluster', () => {
  it('runs a plain docker run on its own node, without asking the scheduler', async () => {
    await stack.killScheduler();
    try {
      expect(ok(await stack.docker(A(), ['run', '--name', 'plain-a', 'busybox', 'echo', 'on-a']))).toBe('on-a');
    } finally {
      await stack.startScheduler();
    }
    const c = await inspect('plain-a');
    expect(c.Node).toMatchObject({ Name: 'cgwa', Addr: `127.0.0.1:${A().supervisorPort}`, IP: '127.0.0.1' });
    expect(c.Config.Labels['com.docker.swarm.id']).toBeUndefined();
  });

  it('places -e constraint:node==B on B and strips the expression from the env', async () => {
    const id = ok(await stack.docker(A(), ['run', '-d', '--name', 'on-b', '-e', 'constraint:node==cgwb', '-e', 'KEEP=1', 'busybox', 'sh', '-c', 'echo from-b; sleep 300']));
    const c = await inspect('on-b');
    expect(c.Id).toBe(id);
    expect(c.Node.Name).toBe('cgwb');
    expect(c.Config.Env).toContain('KEEP=1');
    expect(c.Config.Env.some((e: string) => e.startsWith('constraint:'))).toBe(false);
    expect(JSON.parse(c.Config.Labels['com.docker.swarm.constraints'])).toEqual(['node==cgwb']);
    // B's own gateway sees it as its local container
    expect(ok(await stack.docker(B(), ['ps', '--format', '{{.Names}}']))).toContain('on-b');
  });

  it("places a --volumes-from container on its source's node (the scheduler's dependency) and shares its volume", async () => {
    ok(await stack.docker(A(), ['run', '--name', 'vf-on-b', '-e', 'constraint:node==cgwb', '-v', 'vf-b-data:/data', 'busybox', 'sh', '-c', 'echo from-b-volume > /data/f']));
    // a placement is asked (any expression), the volumes-from dependency picks B
    const r = await stack.docker(A(), ['run', '--name', 'vf-reader', '-e', 'constraint:node!=no-such-node', '--volumes-from', 'vf-on-b:ro', 'busybox', 'cat', '/data/f']);
    expect(ok(r)).toBe('from-b-volume');
    const c = await inspect('vf-reader');
    expect(c.Node.Name).toBe('cgwb');
    expect(c.HostConfig.VolumesFrom).toEqual(['vf-on-b:ro']);
    expect(c.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: 'vf-b-data', Destination: '/data', RW: false })]);
    // B holds no container of this case afterwards (the node filter case below counts B's)
    ok(await stack.docker(A(), ['rm', 'vf-reader', 'vf-on-b']));
    ok(await stack.docker(B(), ['volume', 'rm', 'vf-b-data']));
  });

  it('refuses on A a name taken on B, with dockerd conflict text', async () => {
    const holder = (await inspect('on-b')).Id;
    const r = await stack.docker(A(), ['create', '--name', 'on-b', 'busybox']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Conflict. The container name "/on-b" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    // nothing half-made on A
    expect(ok(await stack.docker(A(), ['ps', '-a', '--filter', 'node=cgwa', '--format', '{{.Names}}'])).split('\n')).not.toContain('on-b');
  });

  it('runs logs, exec, top, inspect, stop and rm on B container from A', async () => {
    await expect(stack.docker(A(), ['logs', 'on-b']).then(ok)).resolves.toBe('from-b');
    await expect(stack.docker(A(), ['exec', 'on-b', 'sh', '-c', 'echo exec-on-$(hostname)']).then(ok)).resolves.toMatch(/^exec-on-[0-9a-f]{12}$/);
    const id = (await inspect('on-b')).Id as string;
    // by unique prefix too
    await expect(stack.docker(A(), ['top', id.slice(0, 8)]).then(ok)).resolves.toContain('sleep 300');
    ok(await stack.docker(A(), ['stop', '-t', '1', 'on-b']));
    expect((await inspect('on-b')).State.Status).toBe('exited');
    ok(await stack.docker(A(), ['rm', 'on-b']));
    const r = await stack.docker(A(), ['inspect', 'on-b']);
    expect(r.stderr).toContain('No such object: on-b');
    // the name is free again, on either node
    ok(await stack.docker(A(), ['create', '--name', 'on-b', 'busybox']));
    ok(await stack.docker(A(), ['rm', 'on-b']));
  });

  it('runs cp, kill, wait, stats, attach, rename and logs -f on B container from A', async () => {
    ok(await stack.docker(A(), ['run', '-d', '--name', 'b-more', '-e', 'constraint:node==cgwb', 'busybox', 'sh', '-c', 'echo file-on-b > /f; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done']));
    const dir = `${stack.nats.dir}/cp`;
    ok(await stack.docker(A(), ['cp', 'b-more:/f', dir]));
    expect(require('node:fs').readFileSync(dir, 'utf8')).toBe('file-on-b\n');
    expect(ok(await stack.docker(A(), ['stats', '--no-stream', '--format', '{{.Name}}', 'b-more']))).toBe('b-more');
    // logs -f follows B's output through A
    const follow = await stack.docker(A(), ['logs', '-f', '--tail', '1', 'b-more'], 1500);
    expect(follow.timedOut).toBe(true);
    expect(follow.stdout.split('\n').filter((l) => l.startsWith('tick')).length).toBeGreaterThan(2);
    const attach = await stack.docker(A(), ['attach', '--no-stdin', 'b-more'], 1500);
    expect(attach.stdout).toMatch(/tick\d+/);
    ok(await stack.docker(A(), ['rename', 'b-more', 'b-renamed']));
    const wait = stack.docker(A(), ['wait', 'b-renamed']);
    ok(await stack.docker(A(), ['kill', 'b-renamed']));
    expect(ok(await wait)).toBe('137');
    // the old name is free cluster-wide, the new one is held
    expect((await stack.docker(A(), ['create', '--name', 'b-renamed', 'busybox'])).stderr).toContain('is already in use');
    ok(await stack.docker(A(), ['create', '--name', 'b-more', 'busybox']));
    ok(await stack.docker(A(), ['rm', 'b-more', 'b-renamed']));
  });

  it('connects a container of B to a network of B, and commits it, from A', async () => {
    ok(await stack.docker(A(), ['run', '-d', '--name', 'b-net', '-e', 'constraint:node==cgwb', 'busybox', 'sleep', '300']));
    ok(await stack.docker(B(), ['network', 'create', 'cgw-bnet']));
    ok(await stack.docker(A(), ['network', 'connect', 'cgw-bnet', 'b-net']));
    expect(Object.keys((await inspect('b-net')).NetworkSettings.Networks)).toContain('cgw-bnet');
    ok(await stack.docker(A(), ['network', 'disconnect', 'cgw-bnet', 'b-net']));
    ok(await stack.docker(A(), ['commit', 'b-net', 'cgw-committed:1']));
    ok(await stack.docker(B(), ['image', 'inspect', 'cgw-committed:1']));
    ok(await stack.docker(A(), ['rm', '-f', 'b-net']));
    ok(await stack.docker(B(), ['network', 'rm', 'cgw-bnet']));
  });

  it('pulls the image on the placed node when it lacks it (through the registry-proxy)', async () => {
    const ref = `${stack.nats.registry!.host}/cgw/only-a:1`;
    ok(await stack.docker(A(), ['tag', 'busybox', ref]));
    ok(await stack.docker(A(), ['push', ref], 60000));
    expect((await stack.docker(B(), ['image', 'inspect', ref])).code).not.toBe(0);
    expect(ok(await stack.docker(A(), ['run', '--rm', '-e', 'constraint:node==cgwb', ref, 'echo', 'pulled-on-b'], 60000))).toBe('pulled-on-b');
    ok(await stack.docker(B(), ['image', 'inspect', ref]));
  });

  it('lists both nodes in ps and filters by node', async () => {
    ok(await stack.docker(A(), ['run', '-d', '--name', 'b-list', '-e', 'constraint:node==cgwb', 'busybox', 'sleep', '300']));
    const all = ok(await stack.docker(A(), ['ps', '-a', '--format', '{{.Names}}'])).split('\n');
    expect(all).toEqual(expect.arrayContaining(['plain-a', 'b-list']));
    expect(ok(await stack.docker(A(), ['ps', '-a', '--filter', 'node=cgwb', '--format', '{{.Names}}'])).split('\n')).toEqual(['b-list']);
    expect(ok(await stack.docker(A(), ['ps', '-a', '--filter', 'node=cgwa', '--format', '{{.Names}}'])).split('\n')).toContain('plain-a');
  });

  it('answers malformed expressions with 400 and no node fitting with the scheduler error', async () => {
    const bad = await stack.docker(A(), ['create', '-e', 'constraint:node=cgwb', 'busybox']);
    expect(bad.stderr).toContain('One of operator ==, != is expected');
    const none = await stack.docker(A(), ['create', '--name', 'nowhere', '-e', 'constraint:node==nope', 'busybox']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('Unable to find a node that satisfies the following conditions');
    // the name was not kept
    ok(await stack.docker(A(), ['create', '--name', 'nowhere', 'busybox']));
    ok(await stack.docker(A(), ['rm', 'nowhere']));
  });

  it('retries a placement while the scheduler is SIGKILLed and restarted, placing each request once', async () => {
    const N = 6;
    const runs = [...Array(N).keys()].map((i) => stack.docker(A(), ['run', '-d', '--name', `resched-${i}`, '-e', 'constraint:node==cgwb', 'busybox', 'sleep', '300'], 60000));
    // SIGKILL while the first placements are in flight, the rest arrive while it is gone
    await new Promise((r) => setTimeout(r, 150));
    await stack.killScheduler();
    await new Promise((r) => setTimeout(r, 1500));
    await stack.startScheduler();
    for (const r of await Promise.all(runs)) ok(r);
    const ids = new Set<string>();
    for (let i = 0; i < N; i++) {
      const c = await inspect(`resched-${i}`);
      expect(c.Node.Name).toBe('cgwb');
      ids.add(c.Config.Labels['com.docker.swarm.id']);
    }
    expect(ids.size).toBe(N);
    // one container per request in the whole cluster
    const labelled = ok(await stack.docker(A(), ['ps', '-a', '--filter', 'label=com.docker.swarm.id', '--format', '{{.Label "com.docker.swarm.id"}}'])).split('\n');
    for (const id of ids) expect(labelled.filter((l) => l === id)).toHaveLength(1);
    // and in the directory: each request claimed one node, its reservation replaced by the container
    const nc = await connect({ servers: stack.nats.nats!.url });
    try {
      const kv = await nc.jetstream().views.kv(DIRECTORY_BUCKET);
      for (const id of ids) expect((await getJson<PlacementClaim>(kv, claimKey(id)))?.value.nodeId).toBeTruthy();
      const entries: PlacedContainer[] = [];
      for (const nodeId of [(await inspect('plain-a')).Node.ID, (await inspect('resched-0')).Node.ID]) {
        entries.push(...Object.values((await getJson<NodeRecord>(kv, nodeKey(nodeId)))?.value.containers ?? {}));
      }
      for (const id of ids) expect(entries.filter((e) => e.requestId === id).map((e) => !!e.id)).toEqual([true]);
    } finally {
      await nc.close();
    }
  });

  it('carries the node in events and lists the nodes in info', async () => {
    const info = JSON.parse((await stack.get(A(), '/info')).body) as { SystemStatus: [string, string][] };
    const keys = info.SystemStatus.map(([k]) => k);
    expect(keys).toEqual(expect.arrayContaining(['Nodes', ' cgwa', ' cgwb', '  └ Status', '  └ Reserved CPUs', '  └ Labels']));
    expect(info.SystemStatus.find(([k]) => k === 'Nodes')![1]).toBe('2');
    // the CLI prints them as it printed classic Swarm's
    const text = ok(await stack.docker(A(), ['info']));
    expect(text).toContain(` Nodes: 2\n  cgwa: 127.0.0.1:${A().supervisorPort}\n   └ ID: `);
    expect(text).toMatch(/ cgwb: 127\.0\.0\.1:\d+\n   └ ID: \S+\n   └ Status: Healthy\n   └ Containers: \d+ \(\d+ Running, 0 Paused, \d+ Stopped\)\n   └ Reserved CPUs: 0 \/ \d+\n   └ Reserved Memory: 0 B \/ [\d.]+ GiB\n   └ Labels: .*storagedriver=overlay2/);
    const since = Math.floor(Date.now() / 1000) - 1;
    ok(await stack.docker(A(), ['run', '--rm', '-e', 'constraint:node==cgwb', 'busybox', 'true']));
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const ev = await stack.docker(A(), ['events', '--since', String(since), '--until', until, '--filter', 'event=create', '--format', '{{json .}}']);
    const created = ok(ev).split('\n').map((l) => JSON.parse(l));
    expect(created.some((e) => e.Actor.Attributes['node.name'] === 'cgwb' && e.Actor.Attributes['node.addr'] === `127.0.0.1:${B().supervisorPort}` && / node:cgwb$/.test(e.from ?? ''))).toBe(true);
    // the API's own answer also has Swarm's node object (the CLI's struct drops it)
    const raw = await stack.get(A(), `/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"event":{"create":true}}')}`);
    const rawEvents = raw.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(rawEvents.some((e) => e.node?.Name === 'cgwb' && e.node?.Ip === '127.0.0.1')).toBe(true);
  });

  it('fails at once, with a clear error, for a container on a node that is down', async () => {
    await stack.stopSupervisor(B());
    const r = await stack.docker(A(), ['logs', 'b-list'], 20000);
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('container b-list is on node cgwb, which is down');
    expect(r.ms).toBeLessThan(5000);
    // the rest of the cluster still answers
    expect(ok(await stack.docker(A(), ['ps', '-a', '--format', '{{.Names}}']))).toContain('plain-a');
    // back, then SIGKILLed: before its beats are missed, a call is refused at once by its closed port
    await stack.startSupervisor(B());
    await waitFor(async () => (await stack.docker(A(), ['logs', 'b-list'])).code === 0, 20000, 'B back');
    await stack.killSupervisor(B());
    const killed = await stack.docker(A(), ['stop', 'b-list'], 20000);
    expect(killed.code).not.toBe(0);
    expect(killed.stderr).toMatch(/the node at 127\.0\.0\.1:\d+ did not answer|which is down/);
    expect(killed.ms).toBeLessThan(5000);
    await stack.startSupervisor(B());
  });
});
