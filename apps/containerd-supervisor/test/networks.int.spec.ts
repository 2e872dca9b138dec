import { execFileSync } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { waitFor } from '@drydock/infra';
import { supervisorV1 } from '@drydock/proto';
import { grpcCode, SupervisorHarness } from './support/harness';

/**
 * Container networking against real bridges, veths, iptables and the CNI plugins,
 * under private names (see SupervisorHarness.netPrefix/chainPrefix/pool).
 */
describe('networks (real bridges, veths, iptables, CNI)', () => {
  const h = new SupervisorHarness();
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
    // nothing of the test is left on the host
    expect(h.bridges()).toEqual([]);
    expect(sh(`iptables-save | grep -c -- '${h.chainPrefix}-' || true`).trim()).toBe('0');
  }, 120000);

  /** Text from host:port (the container answers with a line per connection). */
  const fetchLine = (host: string, port: number, timeoutMs = 3000) =>
    new Promise<string>((res, rej) => {
      // one line is the whole answer: busybox nc keeps the connection open after it
      const s = connect(port, host);
      let out = '';
      const t = setTimeout(() => {
        s.destroy();
        rej(new Error(`timeout ${host}:${port}`));
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
  /** Whether a host process can listen on the port on every address now. */
  const listenable = (port: number) =>
    new Promise<boolean>((res) => {
      const srv: Server = createServer();
      srv.once('error', () => res(false));
      srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => res(true)));
    });
  const hostAddr = () => /src (\S+)/.exec(sh('ip -4 route get 1.1.1.1'))![1];
  // -ll: one listener forking per connection; a `while nc -l` loop refused connections between two of its runs
  const server = (word: string) => `nc -ll -p 80 -e echo ${word}`;
  const portRules = (id: string) => Number(sh(`iptables-save -t nat | grep -c '${id}' || true`).trim());
  const vethsOn = (br: string) => Number(sh(`ip -br link show master ${br} 2>/dev/null | wc -l`).trim());

  it('lists the built-in networks and makes the default bridge on the first free pool', async () => {
    const { networks } = await h.n('listNetworks', {});
    const byName = Object.fromEntries(networks.map((n: supervisorV1.Network) => [n.name, n]));
    expect(Object.keys(byName).sort()).toEqual(['bridge', 'host', 'none']);
    expect(byName.bridge.driver).toBe('bridge');
    expect(byName.host.driver).toBe('host');
    expect(byName.none.driver).toBe('null');
    const subnet = byName.bridge.ipam.config[0].subnet as string;
    expect(subnet).toMatch(/^10\.\d+\.0\.0\/24$/);
    expect(h.bridges()).toEqual([`${h.netPrefix}0`]);
  });

  it('gives a default-bridge container an address, MAC, hosts and resolv.conf as dockerd, and a route out', async () => {
    const id = await h.run('cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip -4 route; ping -c1 -W2 "$(ip -4 route | awk \'/default/{print $3}\')" >/dev/null && echo gw-ok; sleep 30', { name: 'b1' });
    await waitFor(async () => (await h.logs(id)).stdout.includes('gw-ok') || (await h.logs(id)).stdout.split('---').length > 3, 10000, 'output');
    const info = await h.inspect(id);
    const ns = info.networkSettings!;
    expect(ns.ipAddress).toMatch(/^10\.\d+\.0\.2$/);
    expect(ns.ipPrefixLen).toBe(24);
    expect(ns.gateway).toBe(ns.ipAddress!.replace(/\.2$/, '.1'));
    const b = ns.ipAddress!.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
    expect(ns.macAddress).toBe(`02:42:${b.join(':')}`);
    expect(ns.sandboxKey).toBe(`/proc/${info.state!.pid}/ns/net`);
    expect(ns.networks!.bridge.ipAddress).toBe(ns.ipAddress);
    const [hosts, resolv, routes] = (await h.logs(id)).stdout.split('---\n');
    expect(hosts.trim().split('\n').pop()).toBe(`${ns.ipAddress}\t${id.slice(0, 12)}`);
    expect(resolv).not.toMatch(/nameserver 127\./);
    expect(routes).toContain(`default via ${ns.gateway}`);
    expect((await h.logs(id)).stdout).toContain('gw-ok');
    expect(vethsOn(`${h.netPrefix}0`)).toBe(1);
    await h.c('removeContainer', { id, force: true });
    expect(vethsOn(`${h.netPrefix}0`)).toBe(0);
  }, 30000);

  it('publishes ports on 127.0.0.1 and the host address, fails a taken port with dockerd text and leaves nothing', async () => {
    const id = await h.run(server('hello'), { name: 'web1', hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostIp: '', hostPort: '28080' }] } } } });
    await waitFor(async () => (await fetchLine('127.0.0.1', 28080).catch(() => '')) === 'hello\n', 10000, 'published port on localhost');
    expect(await fetchLine(hostAddr(), 28080)).toBe('hello\n');
    const info = await h.inspect(id);
    expect(info.networkSettings!.ports!['80/tcp'].mappings).toEqual([
      { hostIp: '0.0.0.0', hostPort: 28080 },
      { hostIp: '::', hostPort: 28080 },
    ]);

    // the same host port again: refused, the second container stays created, nothing made for it
    const second = await h.c('createContainer', { name: 'web2', config: { image: 'busybox', cmd: { values: ['sh', '-c', server('x')] } }, hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostPort: '28080' }] } } } });
    const err = await h.c('startContainer', { id: second.id }).catch((e) => e);
    expect(err.details).toMatch(/^driver failed programming external connectivity on endpoint web2 \([0-9a-f]{64}\): Bind for 0\.0\.0\.0:28080 failed: port is already allocated$/);
    expect(portRules(second.id)).toBe(0);
    expect((await h.inspect(second.id)).state!.status).toBe('created');

    // a host process holding the port
    const srv: Server = createServer().listen(28090, '0.0.0.0');
    await new Promise((r) => srv.once('listening', r));
    const third = await h.c('createContainer', { name: 'web3', config: { image: 'busybox', cmd: { values: ['sh', '-c', server('x')] } }, hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostPort: '28090' }] } } } });
    const err3 = await h.c('startContainer', { id: third.id }).catch((e) => e);
    srv.close();
    expect(err3.details).toMatch(/Error starting userland proxy: listen tcp4 0\.0\.0\.0:28090: bind: address already in use$/);
    expect(portRules(third.id)).toBe(0);

    // -P: an ephemeral port from ip_local_port_range
    const lo = Number(sh('cat /proc/sys/net/ipv4/ip_local_port_range').split(/\s+/)[0]);
    const p = await h.run(server('eph'), { name: 'web4', config: { image: 'busybox', exposedPorts: ['80/tcp'] } as supervisorV1.ContainerConfig, hostConfig: { publishAllPorts: true } });
    const hp = (await h.inspect(p)).networkSettings!.ports!['80/tcp'].mappings![0].hostPort!;
    expect(hp).toBeGreaterThanOrEqual(lo);
    await waitFor(async () => (await fetchLine('127.0.0.1', hp).catch(() => '')) === 'eph\n', 10000, 'ephemeral port');

    expect(portRules(id)).toBeGreaterThan(0);
    for (const c of [id, second.id, third.id, p]) await h.c('removeContainer', { id: c, force: true });
    expect(portRules(id)).toBe(0);
    expect(portRules(p)).toBe(0);
  }, 60000);

  it('creates user networks with dockerd errors, isolates them, and removes them', async () => {
    const a = await h.n('createNetwork', { name: 'neta', checkDuplicate: true, labels: { k: 'v' } });
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    const dup = await h.n('createNetwork', { name: 'neta', checkDuplicate: true }).catch((e) => e);
    expect([grpcCode(dup), dup.details]).toEqual([6, 'network with name neta already exists']);
    const netA = (await h.n('inspectNetwork', { id: 'neta' })).network as supervisorV1.Network;
    const overlap = await h.n('createNetwork', { name: 'over', ipam: { config: [{ subnet: netA.ipam!.config![0].subnet }] } }).catch((e) => e);
    expect(overlap.details).toBe('Pool overlaps with other one on this address space');
    const gw = await h.n('createNetwork', { name: 'gw', ipam: { config: [{ subnet: '10.250.7.0/24', gateway: '10.250.8.1' }] } }).catch((e) => e);
    expect(grpcCode(gw)).toBe(3);
    const b = await h.n('createNetwork', { name: 'netb', ipam: { config: [{ subnet: '10.251.9.0/24', gateway: '10.251.9.254' }] } });
    expect(h.bridges().sort()).toEqual([`${h.netPrefix}-${a.id.slice(0, 8)}`, `${h.netPrefix}-${b.id.slice(0, 8)}`, `${h.netPrefix}0`].sort());

    const a1 = await h.run(server('a1'), { name: 'a1', hostConfig: { networkMode: 'neta' } });
    const a2 = await h.run('sleep 60', { name: 'a2', hostConfig: { networkMode: 'neta' } });
    const b1 = await h.run('sleep 60', { name: 'b1x', hostConfig: { networkMode: 'netb' }, endpoints: { netb: { ipv4Address: '10.251.9.7', aliases: ['bee'] } } });
    const ipA1 = (await h.inspect(a1)).networkSettings!.networks!.neta.ipAddress!;
    const eb = (await h.inspect(b1)).networkSettings!.networks!.netb;
    expect(eb.ipAddress).toBe('10.251.9.7');
    expect(eb.gateway).toBe('10.251.9.254');
    expect(eb.aliases).toEqual(['bee', b1.slice(0, 12)]);
    // same network: reachable; other network: isolated
    const probe = async (net: string, cmd: string) => {
      const id = await h.run(cmd, { hostConfig: { networkMode: net } });
      await h.wait(id);
      const out = (await h.logs(id)).stdout;
      await h.c('removeContainer', { id, force: true });
      return out;
    };
    expect(await probe('neta', `nc -w 2 ${ipA1} 80 </dev/null`)).toBe('a1\n');
    expect(await probe('netb', `nc -w 2 ${ipA1} 80 </dev/null || echo blocked`)).toBe('blocked\n');
    const resolv = await probe('neta', 'cat /etc/resolv.conf');
    expect(resolv).toMatch(/^nameserver 127\.0\.0\.11$/m);
    expect(resolv).toMatch(/^options ndots:0$/m);

    const inspectA = (await h.n('inspectNetwork', { id: a.id.slice(0, 10) })).network as supervisorV1.Network;
    expect(Object.keys(inspectA.containers!).sort()).toEqual([a1, a2].sort());
    expect(inspectA.containers![a1].ipv4Address).toBe(`${ipA1}/24`);
    const inUse = await h.n('removeNetwork', { id: 'neta' }).catch((e) => e);
    expect([grpcCode(inUse), inUse.details]).toEqual([7, `error while removing network: network neta id ${a.id} has active endpoints`]);
    const builtin = await h.n('removeNetwork', { id: 'bridge' }).catch((e) => e);
    expect(builtin.details).toBe('bridge is a pre-defined network and cannot be removed');

    for (const c of [a1, a2, b1]) await h.c('removeContainer', { id: c, force: true });
    await h.n('removeNetwork', { id: 'neta' });
    expect((await h.n('pruneNetworks', {})).deleted).toEqual(['netb']);
    expect(h.bridges()).toEqual([`${h.netPrefix}0`]);
    expect(sh(`iptables-save | grep -c 'drydock-net:${a.id}' || true`).trim()).toBe('0');
    const missing = await h.n('inspectNetwork', { id: 'neta' }).catch((e) => e);
    expect([grpcCode(missing), missing.details]).toEqual([5, 'network neta not found']);
  }, 90000);

  it('connects and disconnects a stopped container in its settings only, a running one at once', async () => {
    await h.n('createNetwork', { name: 'netc' });
    const created = await h.c('createContainer', { name: 'cc', config: { image: 'busybox', cmd: { values: ['sh', '-c', 'sleep 1; ip -4 -o addr show | grep -c eth; sleep 60'] } }, hostConfig: { networkMode: 'netc' }, endpoints: { netc: { aliases: ['web'] } } });
    const id = created.id;
    await h.n('disconnectNetwork', { network: 'netc', container: id });
    expect(Object.keys((await h.inspect(id)).networkSettings!.networks!)).toEqual([]);
    await h.n('connectNetwork', { network: 'netc', container: 'cc', endpointConfig: { aliases: ['web', id.slice(0, 12)] } });
    // a stopped container connected again: dockerd's updateNetworkSettings keeps the settings it has (no error)
    await h.n('connectNetwork', { network: 'netc', container: 'cc', endpointConfig: { aliases: ['other'] } });
    await h.c('startContainer', { id });
    const ns = (await h.inspect(id)).networkSettings!;
    expect(ns.networks!.netc.aliases).toEqual(['web', id.slice(0, 12)]);
    expect(ns.ipAddress).toBe('');
    // running: connect the default bridge now, then take it away again
    await h.n('connectNetwork', { network: 'bridge', container: id, endpointConfig: {} });
    const both = (await h.inspect(id)).networkSettings!;
    expect(Object.keys(both.networks!).sort()).toEqual(['bridge', 'netc']);
    expect(both.ipAddress).toMatch(/^10\./);
    expect(vethsOn(`${h.netPrefix}0`)).toBe(1);
    await h.n('disconnectNetwork', { network: 'bridge', container: id });
    expect(vethsOn(`${h.netPrefix}0`)).toBe(0);
    const notConn = await h.n('disconnectNetwork', { network: 'bridge', container: id }).catch((e) => e);
    expect(notConn.details).toBe(`container ${id} is not connected to network bridge`);
    await h.c('removeContainer', { id, force: true });
    await h.n('removeNetwork', { id: 'netc' });
  }, 60000);

  it('keeps forwarding across a supervisor SIGKILL, adopts the endpoint, and releases one whose container exited meanwhile', async () => {
    const keep = await h.run(server('kept'), { name: 'keep', hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostPort: '28100' }] } } } });
    const gone = await h.run('sleep 3', { name: 'gone', hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostPort: '28101' }] } } } });
    await waitFor(async () => (await fetchLine('127.0.0.1', 28100).catch(() => '')) === 'kept\n', 10000, 'published port');
    const before = (await h.inspect(keep)).networkSettings!;
    await h.kill();
    expect(await fetchLine('127.0.0.1', 28100)).toBe('kept\n');
    expect(portRules(gone)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 3500));
    await h.startSupervisor();
    await waitFor(async () => (await h.inspect(gone)).state!.status === 'exited', 15000, 'exit recorded');
    await waitFor(async () => portRules(gone) === 0, 10000, 'port rules of the exited container released');
    const after = (await h.inspect(keep)).networkSettings!;
    expect(after.ipAddress).toBe(before.ipAddress);
    expect(after.ports).toEqual(before.ports);
    expect(await fetchLine('127.0.0.1', 28100)).toBe('kept\n');
    // the adopted endpoint's host port is held again, the released one is not
    expect(await listenable(28100)).toBe(false);
    expect(await listenable(28101)).toBe(true);
    // the exited container's address is free again and its port can be taken
    const reuse = await h.run('sleep 5', { name: 'reuse', hostConfig: { portBindings: { '80/tcp': { bindings: [{ hostPort: '28101' }] } } } });
    expect((await h.inspect(reuse)).networkSettings!.ports!['80/tcp'].mappings![0].hostPort).toBe(28101);
    for (const c of [keep, gone, reuse]) await h.c('removeContainer', { id: c, force: true });
    expect(vethsOn(`${h.netPrefix}0`)).toBe(0);
  }, 90000);
});
