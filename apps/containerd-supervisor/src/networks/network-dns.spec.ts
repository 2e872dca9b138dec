import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@drydock/logging';
import type { ContainerSpecRecord } from '../containers/record';
import { DnsLauncher, type DnsHelperProcess, type DnsTarget } from './dns';
import type { HostNet } from './host-net';
import { NetworkDns } from './network-dns';
import { NetworkManager } from './network-manager';
import type { EndpointRecord, NetworkRecord } from './network-record';
import type { NetworkStore } from './network-store';
import type { NetContainer } from './network-runs';

/** The real records files; only the process side is recorded instead of run (the int/e2e tests run it). */
class RecordingLauncher extends DnsLauncher {
  calls: string[] = [];
  override async start(id: string, target: DnsTarget): Promise<DnsHelperProcess> {
    this.calls.push(`start ${id} ${target.pid}`);
    return { containerId: id, pid: 1, recordsPath: this.recordsPath(id), target };
  }
  override async stop(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    rmSync(this.dir(id), { recursive: true, force: true });
  }
  override async list(): Promise<DnsHelperProcess[]> {
    return [];
  }
}

const ID = (c: string) => c.repeat(64);
const net = (id: string, name: string, builtin = false): NetworkRecord =>
  ({ id, name, driver: 'bridge', builtin, state: 'ready', pools: [], options: {}, labels: {}, icc: true, internal: false, attachable: false, enableIpv6: false, ipamDriver: 'default', ipamOptions: {}, createdNs: '0' }) as NetworkRecord;
const ep = (networkId: string, ip: string, aliases: string[] = []): EndpointRecord => ({ networkId, endpointId: 'e', ifname: 'eth0', ip, prefix: 24, gateway: '', mac: '', aliases, ports: [], defaultRoute: true, state: 'ready' });

describe('NetworkDns', () => {
  let dir: string;
  let mgr: NetworkManager;
  let launcher: RecordingLauncher;
  let dns: NetworkDns;
  const names: Record<string, { name: string; hostname?: string }> = {};

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'net-dns-'));
    mgr = new NetworkManager({} as NetworkStore, {} as HostNet, { defaultBridge: 'x0', bridgePrefix: 'br-', pools: [] }, createLogger({ service: 'test', level: 'silent' }));
    for (const n of [net('B', 'bridge', true), net('U1', 'front'), net('U2', 'back')]) mgr.networks.set(n.id, n);
    launcher = new RecordingLauncher({ binary: '/nonexistent/drydock-dns', stateDir: dir });
    const find = (ref: string): NetContainer => {
      const n = names[ref];
      if (!n) throw new Error(`No such container: ${ref}`);
      return { id: ref, name: n.name, pid: 0, spec: { config: { hostname: n.hostname }, hostConfig: {} } as unknown as ContainerSpecRecord };
    };
    dns = new NetworkDns(mgr, launcher, dir, find);
    names[ID('a')] = { name: 'a' };
    names[ID('b')] = { name: 'b', hostname: 'bee' };
    names[ID('c')] = { name: 'c' };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const records = (c: string) => readFileSync(join(dir, ID(c), 'records'), 'utf8');
  const running = (c: string, pid: number, eps: EndpointRecord[]) => mgr.containers.set(ID(c), { containerId: ID(c), attachments: eps.map((e) => ({ networkId: e.networkId, config: {} })), run: { pid, sandboxId: '', nextIf: 0, endpoints: eps } });

  it('starts a helper for a run on a user network with every endpoint of its user networks, and rewrites the peers', async () => {
    running('a', 10, [ep('U1', '10.1.0.2', ['web', 'aaaaaaaaaaaa'])]);
    running('c', 30, [ep('B', '172.17.0.3')]);
    await dns.started(ID('a'), 10);
    expect(records('a')).toBe('a.front 10.1.0.2\na 10.1.0.2\naaaaaaaaaaaa 10.1.0.2\nweb 10.1.0.2\naaaaaaaaaaaa.front 10.1.0.2\nweb.front 10.1.0.2\n');
    // the default bridge has no embedded DNS
    await dns.started(ID('c'), 30);
    expect(existsSync(join(dir, ID('c')))).toBe(false);

    running('b', 20, [ep('U1', '10.1.0.3', ['web']), ep('U2', '10.2.0.3')]);
    await dns.started(ID('b'), 20);
    expect(launcher.calls).toEqual([`start ${ID('a')} 10`, `start ${ID('b')} 20`]);
    // a sees b on the network they share, b sees both networks; both answer web
    expect(records('a')).toContain('b.front 10.1.0.3\n');
    expect(records('a')).toContain('bee 10.1.0.3\n');
    expect(records('a')).not.toContain('10.2.0.3');
    expect(records('b')).toContain('b.back 10.2.0.3\n');
    expect(records('b').match(/^web /gm)).toHaveLength(2);
  });

  it('on release stops the helper and drops the endpoints from the peers', async () => {
    running('a', 10, [ep('U1', '10.1.0.2')]);
    running('b', 20, [ep('U1', '10.1.0.3')]);
    await dns.started(ID('a'), 10);
    await dns.started(ID('b'), 20);
    expect(records('a')).toContain('b 10.1.0.3\n');
    mgr.containers.get(ID('b'))!.run = undefined;
    await dns.released(ID('b'), ['U1']);
    expect(launcher.calls).toContain(`stop ${ID('b')}`);
    expect(records('a')).not.toContain('10.1.0.3');
    expect(existsSync(join(dir, ID('b')))).toBe(false);
  });

  it('on connect starts a helper for a running container that had none; on the last disconnect stops it', async () => {
    running('a', 10, [ep('U1', '10.1.0.2')]);
    running('c', 30, [ep('B', '172.17.0.3')]);
    await dns.started(ID('a'), 10);
    mgr.containers.get(ID('c'))!.run!.endpoints.push(ep('U1', '10.1.0.4', ['late']));
    await dns.changed(ID('c'), 'U1');
    expect(launcher.calls).toEqual([`start ${ID('a')} 10`, `start ${ID('c')} 30`]);
    expect(records('a')).toContain('late 10.1.0.4\n');
    expect(records('c')).toContain('a 10.1.0.2\n');
    const run = mgr.containers.get(ID('c'))!.run!;
    run.endpoints = run.endpoints.filter((e) => e.networkId !== 'U1');
    await dns.changed(ID('c'), 'U1');
    expect(launcher.calls).toContain(`stop ${ID('c')}`);
    expect(records('a')).not.toContain('late');
  });

  it('at init stops what no live run holds and starts the helper of a run that has none', async () => {
    await launcher.writeRecords(ID('c'), []);
    running('a', 10, [ep('U1', '10.1.0.2')]);
    await dns.init();
    expect(launcher.calls.sort()).toEqual([`start ${ID('a')} 10`, `stop ${ID('c')}`].sort());
    expect(records('a')).toBe('a.front 10.1.0.2\na 10.1.0.2\naaaaaaaaaaaa 10.1.0.2\naaaaaaaaaaaa.front 10.1.0.2\n');
  });
});
