import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '@drydock/infra';
import { CrashRun } from './support/crash-run';
import { SupervisorHarness } from './support/harness';

/**
 * A supervisor SIGKILLed at each crash point of `network create`, `network connect` and
 * a container start (DRYDOCK_SUPERVISOR_CRASH_AT) leaves nothing half made once it is back:
 * the kernel objects of the test (bridges, routes, veths, its chains' rules, portmap rules,
 * host-local lease files, netns mounts) and its records (networks, endpoint leases) are
 * listed before the operation, when it died and after the restart, and the last equals the
 * first. Then the same operation succeeds.
 */
describe('networks after a crash mid-operation (real kernel objects)', () => {
  const h = new SupervisorHarness();
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();
  const lines = (cmd: string) => sh(cmd).split('\n').filter(Boolean);
  const netDir = () => join(h.stateDir, 'supervisor', 'network');
  /** CNI-DN-* chains portmap made for the test's containers (remembered: after a DEL nothing names them). */
  const dnChains = new Set<string>();
  /** Network ids the test's supervisor ever had (their host-local lease dirs are looked at). */
  const netIds = new Set<string>();

  const readJson = <T>(dir: string): T[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T) : []);

  /** Everything of the test's in the kernel and in its records, as sorted lists (ids: the containers involved). */
  const snapshot = (ids: string[] = []) => {
    const nets = readJson<{ id: string; name: string; state: string }>(join(netDir(), 'networks'));
    for (const n of nets) netIds.add(n.id);
    const nat = lines('iptables-save -t nat');
    for (const l of nat) if (l.startsWith('-A CNI-HOSTPORT-DNAT ') && ids.some((id) => l.includes(id))) dnChains.add(/ -j (CNI-DN-\S+)/.exec(l)![1]);
    const all = [...lines('iptables-save -t filter'), ...nat].map((l) => l.replace(/\[\d+:\d+\]/g, ''));
    const mine = (id: string) => ids.some((c) => id.includes(c)) || id.includes(h.stateDir);
    return {
      networks: nets.map((n) => `${n.name}:${n.state}`).sort(),
      bridges: h.bridges().sort(),
      // (without "linkdown": a bridge loses its carrier with its last port)
      routes: lines('ip -4 route')
        .filter((l) => l.includes(`dev ${h.netPrefix}`))
        .map((l) => l.replace(/ linkdown/, '').trim())
        .sort(),
      // host ends of veths, by the bridge they hang on (their names are the bridge plugin's random ones)
      veths: lines('ip -o link show type veth')
        .map((l) => / master (\S+)/.exec(l)?.[1] ?? '')
        .filter((m) => m.startsWith(h.netPrefix))
        .sort(),
      rules: all.filter((l) => l.includes(`${h.chainPrefix}-`)).sort(),
      portmap: all.filter((l) => ids.some((id) => l.includes(id)) || [...dnChains].some((c) => l.startsWith(`:${c} `) || l.startsWith(`-A ${c} `))).sort(),
      // the address leases: an endpoint's address is held by its record (static IPAM in the chain) ...
      leases: readJson<{ containerId: string; run?: { endpoints: { networkId: string; ip: string; state: string }[] } }>(join(netDir(), 'endpoints'))
        .flatMap((c) => (c.run?.endpoints ?? []).map((e) => `${c.containerId.slice(0, 12)}:${e.networkId.slice(0, 12)}:${e.ip}:${e.state}`))
        .sort(),
      // ... and none by host-local's files (the plugin's default data dir)
      hostLocal: [...netIds].flatMap((id) => {
        const d = `/var/lib/cni/networks/drydock-${id.slice(0, 12)}`;
        return existsSync(d) ? readdirSync(d).map((f) => `${d}/${f}`) : [];
      }),
      netnsMounts: [...lines('cat /proc/mounts').filter((l) => l.split(' ')[2] === 'nsfs' && mine(l)), ...(existsSync('/run/netns') ? readdirSync('/run/netns').filter(mine) : [])],
    };
  };
  type Snapshot = ReturnType<typeof snapshot>;

  /** Interfaces (not lo) inside a running container's network namespace. */
  const ifacesIn = (pid: number) => lines(`nsenter -t ${pid} -n ip -o link show`).map((l) => l.split(':')[1].trim().split('@')[0]).filter((n) => n !== 'lo').sort();

  const fetchLine = (port: number, timeoutMs = 3000) =>
    new Promise<string>((res, rej) => {
      const s = connect(port, '127.0.0.1');
      let out = '';
      const t = setTimeout(() => {
        s.destroy();
        rej(new Error(`timeout 127.0.0.1:${port}`));
      }, timeoutMs);
      s.on('data', (d) => {
        out += d.toString();
        if (out.includes('\n')) s.destroy();
      });
      s.on('error', (e) => {
        clearTimeout(t);
        rej(e);
      });
      s.on('close', () => {
        clearTimeout(t);
        res(out);
      });
    });
  const server = (word: string) => `while true; do echo ${word} | nc -l -p 80; done`;

  const crash = new CrashRun(h);
  const restart = () => crash.restart();
  const crashDuring = (point: string, op: () => Promise<unknown>, ids: () => string[]): Promise<Snapshot> => crash.during(point, op, () => snapshot(ids()));

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  // a failed test's containers and networks must not fail the next ones too
  afterEach(() => crash.reset(), 60000);

  afterAll(async () => {
    await h.teardown();
    expect(h.bridges()).toEqual([]);
    expect(sh(`iptables-save | grep -c -- '${h.chainPrefix}-' || true`).trim()).toBe('0');
  }, 120000);

  describe.each([
    ['network-create:recorded', (before: Snapshot, crashed: Snapshot) => expect(crashed.networks).toEqual([...before.networks, 'crashnet:creating'].sort())],
    ['network-create:bridge', (before: Snapshot, crashed: Snapshot) => {
      expect(crashed.bridges.length).toBe(before.bridges.length + 1);
      expect(crashed.routes.length).toBe(before.routes.length + 1);
      expect(crashed.rules).toEqual(before.rules);
    }],
    ['network-create:rules', (before: Snapshot, crashed: Snapshot) => {
      expect(crashed.bridges.length).toBe(before.bridges.length + 1);
      expect(crashed.rules.length).toBeGreaterThan(before.rules.length);
      expect(crashed.networks).toContain('crashnet:creating');
    }],
  ])('network create killed at %s', (point, made) => {
    it('leaves no record, bridge, route or rule, and the create succeeds after', async () => {
      const before = snapshot();
      const crashed = await crashDuring(point, () => h.n('createNetwork', { name: 'crashnet' }), () => []);
      made(before, crashed);
      expect(snapshot()).toEqual(before);
      const { networks } = await h.n('listNetworks', {});
      expect(networks.map((n: { name: string }) => n.name)).not.toContain('crashnet');

      const { id } = await h.n('createNetwork', { name: 'crashnet' });
      const after = snapshot();
      expect(after.networks).toEqual([...before.networks, 'crashnet:ready'].sort());
      expect(after.bridges).toEqual([...before.bridges, `${h.netPrefix}-${id.slice(0, 8)}`].sort());
      expect(after.rules.filter((l) => l.includes(`drydock-net:${id}`)).length).toBeGreaterThan(0);
      await h.n('removeNetwork', { id });
      expect(snapshot()).toEqual(before);
    }, 90000);
  });

  describe.each([
    ['endpoint:leased', (before: Snapshot, crashed: Snapshot) => expect(crashed.leases.length).toBe(before.leases.length + 1)],
    ['endpoint:added', (before: Snapshot, crashed: Snapshot) => {
      expect(crashed.leases.length).toBe(before.leases.length + 1);
      expect(crashed.veths.length).toBe(before.veths.length + 1);
    }],
  ])('network connect of a running container killed at %s', (point, made) => {
    it('adopts the container and its endpoint, leaves no lease, veth or interface of the connect, and the connect succeeds after', async () => {
      const base = snapshot();
      const net = await h.n('createNetwork', { name: 'connnet', ipam: { config: [{ subnet: '10.252.33.0/24' }] } });
      const id = await h.run('sleep 120', { name: 'conn' });
      const pid = (await h.inspect(id)).state!.pid!;
      const ip = (await h.inspect(id)).networkSettings!.ipAddress;
      expect(ifacesIn(pid)).toEqual(['eth0']);
      const before = snapshot([id]);

      const crashed = await crashDuring(point, () => h.n('connectNetwork', { network: 'connnet', container: id, endpointConfig: {} }), () => [id]);
      made(before, crashed);
      if (point === 'endpoint:added') expect(crashed.veths.filter((m) => m === `${h.netPrefix}-${net.id.slice(0, 8)}`)).toHaveLength(1);
      expect(snapshot([id])).toEqual(before);
      expect(ifacesIn(pid)).toEqual(['eth0']);
      // adopted: still running, same run, same address, not connected to connnet
      const info = await h.inspect(id);
      expect([info.state!.status, info.state!.pid, info.networkSettings!.ipAddress]).toEqual(['running', pid, ip]);
      expect(Object.keys(info.networkSettings!.networks!)).toEqual(['bridge']);

      await h.n('connectNetwork', { network: 'connnet', container: id, endpointConfig: {} });
      const joined = (await h.inspect(id)).networkSettings!.networks!.connnet;
      // the address the crashed connect had taken is the first one handed out again
      expect(joined.ipAddress).toBe('10.252.33.2');
      expect(ifacesIn(pid)).toHaveLength(2);
      expect(snapshot([id]).veths.length).toBe(before.veths.length + 1);
      await h.c('removeContainer', { id, force: true });
      await h.n('removeNetwork', { id: net.id });
      expect(snapshot([id])).toEqual(base);
    }, 90000);
  });

  describe.each([
    ['endpoint:leased', (before: Snapshot, crashed: Snapshot) => expect(crashed.leases.length).toBe(before.leases.length + 1)],
    ['endpoint:added', (before: Snapshot, crashed: Snapshot) => {
      expect(crashed.veths.length).toBe(before.veths.length + 1);
      expect(crashed.portmap.length).toBeGreaterThan(before.portmap.length);
      expect(crashed.leases.some((l) => l.endsWith(':adding'))).toBe(true);
    }],
    ['start:prepared', (before: Snapshot, crashed: Snapshot) => {
      expect(crashed.veths.length).toBe(before.veths.length + 1);
      expect(crashed.portmap.length).toBeGreaterThan(before.portmap.length);
      expect(crashed.leases.some((l) => l.endsWith(':ready'))).toBe(true);
    }],
  ])('container start killed at %s', (point, made) => {
    it('leaves the container not running with no lease, veth, port rule or netns mount, and the start succeeds after', async () => {
      const base = snapshot();
      const net = await h.n('createNetwork', { name: 'startnet', ipam: { config: [{ subnet: '10.252.34.0/24' }] } });
      const { id } = await h.c('createContainer', {
        name: 'st',
        config: { image: 'busybox', cmd: { values: ['sh', '-c', server('up')] } },
        hostConfig: { networkMode: 'startnet', portBindings: { '80/tcp': { bindings: [{ hostPort: '28200' }] } } },
      });
      const before = snapshot([id]);

      const crashed = await crashDuring(point, () => h.c('startContainer', { id }), () => [id]);
      made(before, crashed);
      expect(snapshot([id])).toEqual(before);
      const info = await h.inspect(id);
      expect(info.state!.status).toBe('created');
      expect(info.networkSettings!.ipAddress).toBe('');

      await h.c('startContainer', { id });
      expect((await h.inspect(id)).networkSettings!.networks!.startnet.ipAddress).toBe('10.252.34.2');
      await waitFor(async () => (await fetchLine(28200).catch(() => '')) === 'up\n', 10000, 'published port');
      await h.c('removeContainer', { id, force: true });
      await h.n('removeNetwork', { id: net.id });
      expect(snapshot([id])).toEqual(base);
    }, 90000);
  });

  it('a policy restart killed at start:prepared: the restarted supervisor gives the run back and the policy starts it again with a working network', async () => {
    const base = snapshot();
    const net = await h.n('createNetwork', { name: 'polnet', ipam: { config: [{ subnet: '10.252.36.0/24' }] } });
    // the first run answers, then exits once the supervisor is back armed: the policy restart dies at the point
    const id = await h.run(`if [ -e /ran ]; then ${server('again')}; fi; touch /ran; sleep 4; exit 3`, {
      name: 'pol',
      hostConfig: { networkMode: 'polnet', restartPolicy: { name: 'always' }, portBindings: { '80/tcp': { bindings: [{ hostPort: '28220' }] } } },
    });
    await h.kill();
    crash.armed = true;
    await h.startSupervisor({ DRYDOCK_SUPERVISOR_CRASH_AT: 'start:prepared' });
    expect(await h.exited(30000)).toBe('SIGKILL');
    const crashed = snapshot([id]);
    expect(crashed.leases.filter((l) => l.startsWith(id.slice(0, 12)))).toEqual([`${id.slice(0, 12)}:${net.id.slice(0, 12)}:10.252.36.2:ready`]);
    expect(crashed.portmap.length).toBeGreaterThan(0);
    await restart();
    crash.armed = false;
    await waitFor(async () => (await fetchLine(28220).catch(() => '')) === 'again\n', 15000, 'the restarted run answering');
    const info = await h.inspect(id);
    expect([info.state!.status, info.networkSettings!.networks!.polnet.ipAddress]).toEqual(['running', '10.252.36.2']);
    const now = snapshot([id]);
    expect(now.leases.filter((l) => l.startsWith(id.slice(0, 12)))).toEqual([`${id.slice(0, 12)}:${net.id.slice(0, 12)}:10.252.36.2:ready`]);
    expect(now.veths.filter((m) => m === `${h.netPrefix}-${net.id.slice(0, 8)}`)).toHaveLength(1);
    await h.c('removeContainer', { id, force: true });
    await h.n('removeNetwork', { id: net.id });
    expect(snapshot([id])).toEqual(base);
  }, 90000);

  it('releases the endpoint, lease and port rules of a container that exited while the supervisor was down, and adopts the others', async () => {
    const base = snapshot();
    const net = await h.n('createNetwork', { name: 'exitnet', ipam: { config: [{ subnet: '10.252.35.0/24' }] } });
    const stay = await h.run(server('stay'), { name: 'stay', hostConfig: { networkMode: 'exitnet', portBindings: { '80/tcp': { bindings: [{ hostPort: '28210' }] } } } });
    const gone = await h.run('sleep 3', { name: 'gone', hostConfig: { networkMode: 'exitnet', portBindings: { '80/tcp': { bindings: [{ hostPort: '28211' }] } } } });
    const goneIp = (await h.inspect(gone)).networkSettings!.networks!.exitnet.ipAddress;
    const stayIp = (await h.inspect(stay)).networkSettings!.networks!.exitnet.ipAddress;
    await waitFor(async () => (await fetchLine(28210).catch(() => '')) === 'stay\n', 10000, 'published port');
    const running = snapshot([stay, gone]);
    expect(running.leases).toHaveLength(base.leases.length + 2);
    expect(running.veths).toHaveLength(base.veths.length + 2);
    expect(running.portmap.filter((l) => l.includes(gone)).length).toBeGreaterThan(0);

    await h.kill();
    await new Promise((r) => setTimeout(r, 3500)); // gone exits meanwhile
    // its veth went with its namespace; its lease and port rules wait for the supervisor
    const down = snapshot([stay, gone]);
    expect(down.veths).toHaveLength(base.veths.length + 1);
    expect(down.portmap.filter((l) => l.includes(gone)).length).toBeGreaterThan(0);
    expect(down.leases).toEqual(running.leases);

    await restart();
    await waitFor(async () => (await h.inspect(gone)).state!.status === 'exited', 15000, 'exit recorded');
    const back = snapshot([stay, gone]);
    expect(back.leases).toEqual(running.leases.filter((l) => !l.startsWith(gone.slice(0, 12))));
    expect(back.portmap.filter((l) => l.includes(gone))).toEqual([]);
    expect(back.portmap.filter((l) => l.includes(stay)).length).toBeGreaterThan(0);
    expect(back.veths).toEqual(down.veths);
    // the other one is adopted: same address, its port still answers
    expect((await h.inspect(stay)).networkSettings!.networks!.exitnet.ipAddress).toBe(stayIp);
    expect(await fetchLine(28210)).toBe('stay\n');
    // the address and the port are free again
    const next = await h.run(server('next'), { name: 'next', hostConfig: { networkMode: 'exitnet', portBindings: { '80/tcp': { bindings: [{ hostPort: '28211' }] } } } });
    expect((await h.inspect(next)).networkSettings!.networks!.exitnet.ipAddress).toBe(goneIp);
    await waitFor(async () => (await fetchLine(28211).catch(() => '')) === 'next\n', 10000, 'port taken again');
    for (const c of [stay, gone, next]) await h.c('removeContainer', { id: c, force: true });
    await h.n('removeNetwork', { id: net.id });
    expect(snapshot([stay, gone, next])).toEqual(base);
  }, 90000);
});
