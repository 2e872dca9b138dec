// Classic Swarm's rescheduling on the real three-node cluster of `npm run cluster`, with the docker CLI:
// a node is lost (its supervisor, gateway, builder and containerd frozen with SIGSTOP, so no heartbeat
// and the tool's watchdogs restart nothing), its opted-in containers are made again on another node with
// the same name and configuration, the others stay; when it comes back its stale copies are removed
// before any restart policy runs them (never two running copies: classicswarm#1810).
import { connect, type KV, type NatsConnection } from 'nats';
import { DIRECTORY_BUCKET, getJson, nameKey, type NameClaim, type NodeRecord } from '@drydock/cluster';
import { waitFor } from '@drydock/infra';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { beats, ClusterHarness } from './cluster-harness';

jest.setTimeout(300000);

interface Inspected {
  Id: string;
  Name: string;
  Node: { Name: string };
  State: { Running: boolean; Status: string; Pid: number };
  Config: { Image: string; Cmd: string[]; Env: string[]; Labels: Record<string, string> };
}

const level = process.env.DRYDOCK_CLUSTER_E2E_LOG_LEVEL ? { DRYDOCK_LOG_LEVEL: process.env.DRYDOCK_CLUSTER_E2E_LOG_LEVEL } : undefined;

describe('rescheduling on node failure (three nodes)', () => {
  const h = new ClusterHarness({ tag: 'resched', env: level });
  let nc: NatsConnection | undefined;
  let directory: KV;
  let second: ChildProcess | undefined;

  const inspect = async (ref: string, node = 'node1', timeoutMs = 3000): Promise<Inspected | undefined> => {
    const r = await h.docker(node, ['inspect', ref], timeoutMs);
    return r.code === 0 ? (JSON.parse(r.stdout) as Inspected[])[0] : undefined;
  };
  const records = async (): Promise<Record<string, NodeRecord>> => {
    const out: Record<string, NodeRecord> = {};
    const keys: string[] = [];
    for await (const k of await directory.keys('node.>')) keys.push(k);
    for (const k of keys) {
      const r = await getJson<NodeRecord>(directory, k);
      if (r) out[r.value.name ?? k] = r.value;
    }
    return out;
  };
  const entriesNamed = (recs: Record<string, NodeRecord>, name: string) =>
    Object.entries(recs).flatMap(([node, r]) => Object.values(r.containers).filter((e) => e.name === name).map((e) => ({ node, e })));
  const node2 = ['containerd', 'supervisor', 'gateway', 'builder'].map((s) => `node2.${s}`);

  beforeAll(async () => {
    await h.setUp();
    await h.start();
    // two schedulers decide at once: still one replacement
    second = h.startScheduler(level);
    for (const n of h.nodes) await h.ok(n, ['import', '-c', 'CMD ["/bin/sh"]', join(h.dir, 'busybox.tar'), 'busybox:latest']);
    nc = await connect({ servers: h.natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    directory = await nc.jetstream({ timeout: 5000 }).views.kv(DIRECTORY_BUCKET, { bindOnly: true });
  }, 400000);

  afterAll(async () => {
    // a frozen node would stall --down
    for (const s of node2) {
      const pid = h.recordedPid(s);
      if (pid) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
    }
    if (second && second.exitCode === null) {
      const exited = new Promise((r) => second!.once('exit', r));
      second.kill('SIGTERM');
      await exited;
    }
    await nc?.close().catch(() => undefined);
    await h.tearDown();
  }, 120000);

  it('makes an opted-in container again on another node within 15 s of the last heartbeat, leaves the others, and removes the stale copy when the node returns', async () => {
    // on node2 through node1's gateway (a soft constraint: the replacement may go elsewhere), opted in with -e
    await h.ok('node1', ['run', '-d', '--restart', 'always', '-e', 'reschedule:on-node-failure', '-e', 'constraint:node==~node2', '-e', 'FOO=bar', '--label', 'app=web', '--name', 'web', 'busybox', 'sleep', '100000']);
    // opted in by label, created and never started; and one that did not opt in, from node2's own gateway
    await h.ok('node1', ['create', '--label', 'com.docker.swarm.reschedule-policies=["on-node-failure"]', '-e', 'constraint:node==~node2', '--name', 'db', 'busybox', 'sleep', '100000']);
    await h.ok('node2', ['run', '-d', '--restart', 'always', '--name', 'plain', 'busybox', 'sleep', '100000']);
    const before = (await inspect('web'))!;
    const beforeDb = (await inspect('db'))!;
    expect([before.Node.Name, beforeDb.Node.Name, (await inspect('plain'))!.Node.Name]).toEqual(['node2', 'node2', 'node2']);
    expect(before.State.Running).toBe(true);
    expect(before.Config.Env).toContain('FOO=bar');
    expect(before.Config.Env.some((e) => e.startsWith('reschedule:'))).toBe(false);
    // the create request is in KV before the node is lost
    await waitFor(async () => {
      const r = (await records()).node2;
      return !!r?.containers[before.Id]?.create && r.containers[before.Id].running === true && !!r.containers[beforeDb.Id]?.create;
    }, 20000, "node2's record to carry the create requests", 250);
    expect((await records()).node2.containers).not.toHaveProperty([(await inspect('plain'))!.Id, 'create']);

    // node2 is lost: frozen, so nothing beats and no watchdog restarts anything; web's process dies meanwhile
    // (on return the supervisor finds it exited, and its restart policy would start it)
    const stoppedAt = Date.now();
    for (const s of node2) process.kill(h.recordedPid(s)!, 'SIGSTOP');
    process.kill(before.State.Pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    const lastBeat = (await beats(nc!)).node2;
    expect(stoppedAt - lastBeat).toBeLessThan(2000);

    let after: Inspected | undefined;
    await waitFor(async () => {
      const c = await inspect('web');
      if (c && c.Node.Name !== 'node2' && c.State.Running) after = c;
      return !!after;
    }, 30000, 'web to run on another node', 250);
    const runningAt = Date.now();
    // eslint-disable-next-line no-console
    console.log(`rescheduled: web running on ${after!.Node.Name} ${runningAt - lastBeat} ms after node2's last heartbeat (${runningAt - stoppedAt} ms after it was frozen)`);
    expect(runningAt - lastBeat).toBeLessThanOrEqual(15000);
    expect(after!.Id).not.toBe(before.Id);
    expect(after!.Name).toBe('/web');
    expect(after!.Config.Image).toBe(before.Config.Image);
    expect(after!.Config.Cmd).toEqual(before.Config.Cmd);
    expect(after!.Config.Env).toEqual(before.Config.Env);
    const { 'com.docker.swarm.id': newReq, ...labels } = after!.Config.Labels;
    const { 'com.docker.swarm.id': oldReq, ...oldLabels } = before.Config.Labels;
    expect(labels).toEqual(oldLabels);
    expect(newReq).toBeTruthy();
    expect(newReq).not.toBe(oldReq);
    expect(labels['app']).toBe('web');
    expect(second!.exitCode).toBeNull();
    // one replacement in the whole cluster, whichever scheduler decided it
    const replacements = Object.values(await records()).flatMap((r) => Object.values(r.containers).filter((e) => e.rescheduledFrom?.key === before.Id));
    expect(replacements.map((e) => e.id)).toEqual([after!.Id]);
    // docker ps on node1 lists it running (node2's copy is not listed: node2 is down)
    const ps = (await h.ok('node1', ['ps', '--format', '{{.ID}} {{.Names}}'])).split('\n');
    expect(ps.filter((l) => l.endsWith(' web'))).toEqual([`${after!.Id.slice(0, 12)} web`]);
    // the name moved with it
    expect((await getJson<NameClaim>(directory, nameKey('web')))?.value.id).toBe(after!.Id);

    // db is made again and not started; plain stays on node2 only
    let db: Inspected | undefined;
    await waitFor(async () => {
      const c = await inspect('db');
      if (c && c.Node.Name !== 'node2') db = c;
      return !!db;
    }, 15000, 'db to be made on another node', 250);
    expect(db!.State.Status).toBe('created');
    await new Promise((r) => setTimeout(r, 2000));
    const lost = await records();
    expect(entriesNamed(lost, 'plain')).toEqual([{ node: 'node2', e: expect.not.objectContaining({ rescheduledTo: expect.anything() }) }]);
    expect(entriesNamed(lost, 'web').map((x) => x.node).sort()).toEqual(['node2', after!.Node.Name].sort());
    const plainCall = await h.docker('node1', ['inspect', 'plain'], 10000);
    expect(plainCall.stderr).toContain('which is down');
    const events = await h.ok('node1', ['events', '--since', String(stoppedAt / 1000), '--until', String(Date.now() / 1000), '--filter', 'type=container', '--format', '{{.ID}} {{.Action}}']);
    expect(events.split('\n')).toEqual(expect.arrayContaining([`${after!.Id} create`, `${after!.Id} start`, `${db!.Id} create`]));

    // node2 comes back: containerd, gateway and builder resume; the supervisor is killed and its
    // watchdog starts a new one, which loads web (exited, restart policy always) and db from containerd.
    // NATS is out of its reach for its first seconds (connections refused in node2's namespace), so
    // web's restart policy comes due before the directory can say web was rescheduled away.
    const netns = ['netns', 'exec', `${h.netnsPrefix}node2`, 'iptables'];
    const block = ['OUTPUT', '-p', 'tcp', '-d', h.hostAddress, '--dport', '4222:4224', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    execFileSync('ip', [...netns, '-I', ...block]);
    const backAt = Date.now();
    try {
      for (const s of ['node2.containerd', 'node2.gateway', 'node2.builder']) process.kill(h.recordedPid(s)!, 'SIGCONT');
      const old = h.recordedPid('node2.supervisor')!;
      process.kill(old, 'SIGKILL');
      await waitFor(() => ![undefined, old].includes(h.recordedPid('node2.supervisor')), 20000, "node2's supervisor to be restarted", 100);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      execFileSync('ip', [...netns, '-D', ...block]);
    }
    await waitFor(async () => {
      const r = (await records()).node2;
      return !!r && !r.containers[before.Id] && !r.containers[beforeDb.Id] && (await beats(nc!)).node2 > backAt;
    }, 60000, "node2's stale copies to be removed", 500);
    expect((await h.docker('node2', ['inspect', before.Id])).stderr).toContain('No such object');
    expect((await h.docker('node2', ['inspect', beforeDb.Id])).stderr).toContain('No such object');
    // one web, the replacement, running; plain still runs on node2
    const again = (await h.ok('node1', ['ps', '-a', '--format', '{{.ID}} {{.Names}} {{.State}}'])).split('\n');
    expect(again.filter((l) => / web /.test(l))).toEqual([`${after!.Id.slice(0, 12)} web running`]);
    expect((await inspect('plain'))).toMatchObject({ Node: { Name: 'node2' }, State: { Running: true } });
    expect((await inspect('web'))!.Id).toBe(after!.Id);
    // the stale copy never ran again: no start of it since node2 came back
    const since = await h.ok('node1', ['events', '--since', String(backAt / 1000), '--until', String(Date.now() / 1000), '--filter', `container=${before.Id}`, '--format', '{{.Action}}']);
    expect(since.split('\n')).not.toContain('start');
    expect(since.split('\n')).toContain('destroy');
  });
});
