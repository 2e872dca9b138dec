// The network area's refusals against dockerd 20.10's texts and error classes (daemon/network.go
// FindNetwork, api/server/router/network getNetwork, daemon/container_operations.go,
// runconfig/errors.go, libnetwork ipam), with in-memory fakes of the store, host and CNI.
import { createLogger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import type { ContainerSpecRecord } from '../containers/record';
import type { CniRunner } from './cni';
import type { HostNet } from './host-net';
import { NetworkManager, rangeOrdinals } from './network-manager';
import type { ContainerNetRecord, NetworkRecord } from './network-record';
import { NetworkRuns, type NetContainer } from './network-runs';
import { PortHolder } from './port-holder';
import type { NetworkStore } from './network-store';
import { parseCidr } from './cidr';

class MemStore implements NetworkStore {
  nets = new Map<string, NetworkRecord>();
  ctrs = new Map<string, ContainerNetRecord>();
  async loadNetworks() {
    return [...this.nets.values()];
  }
  async putNetwork(n: NetworkRecord) {
    this.nets.set(n.id, structuredClone(n));
  }
  async deleteNetwork(id: string) {
    this.nets.delete(id);
  }
  async loadContainers() {
    return [...this.ctrs.values()];
  }
  async putContainer(c: ContainerNetRecord) {
    this.ctrs.set(c.containerId, structuredClone(c));
  }
  async deleteContainer(id: string) {
    this.ctrs.delete(id);
  }
}

/** The host as a record of what was asked: no kernel objects. */
function fakeHost(): HostNet {
  const bridges: { name: string; alias: string; addrs: string[] }[] = [];
  const h = {
    ensureBase: async () => undefined,
    addRules: async () => undefined,
    removeRules: async () => undefined,
    ruleNetworkIds: async () => new Set<string>(),
    portmapOwners: async () => [],
    dnatPorts: async () => new Set<string>(),
    createBridge: async (name: string, gw: string, id: string) => void bridges.push({ name, alias: `drydock-net:${id}`, addrs: [gw] }),
    deleteBridge: async (name: string) => void bridges.splice(bridges.findIndex((b) => b.name === name), 1),
    bridges: async () => bridges,
    routes: async () => [],
  };
  return h as unknown as HostNet;
}

const cni: CniRunner = { add: async () => ({}), del: async () => undefined } as unknown as CniRunner;
const spec = (networkMode: string, over: Partial<ContainerSpecRecord> = {}): ContainerSpecRecord => ({
  id: '',
  createdNs: '1',
  image: 'busybox',
  imageId: 'sha256:x',
  imageName: 'busybox',
  path: 'sh',
  args: [],
  config: {} as supervisorV1.ContainerConfig,
  hostConfig: { networkMode } as supervisorV1.HostConfig,
  ...over,
});
const createReq = (name: string, subnet = ''): supervisorV1.CreateNetworkRequest => ({ name, driver: 'bridge', ipam: { driver: 'default', config: subnet ? [{ subnet, gateway: '', ipRange: '', auxAddresses: {} }] : [], options: {} }, options: {}, labels: {} }) as supervisorV1.CreateNetworkRequest;
const fail = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
  return 'ok';
};

describe('network errors as dockerd 20.10', () => {
  let mgr: NetworkManager;
  let runs: NetworkRuns;
  const containers = new Map<string, NetContainer>();
  const add = (id: string, name: string, mode: string, pid = 0) => containers.set(id, { id, name, spec: spec(mode, { id }), pid });

  beforeEach(async () => {
    containers.clear();
    mgr = new NetworkManager(new MemStore(), fakeHost(), { defaultBridge: 'ddtest0', bridgePrefix: 'ddt-', pools: ['10.200.0.0/16', '10.201.0.0/16', '10.202.0.0/16'] }, createLogger({ level: 'silent' } as never));
    await mgr.init();
    runs = new NetworkRuns(mgr, cni, {
      hostFiles: () => ({ hostname: '/dev/null', hosts: '/dev/null', resolvConf: '/dev/null' }),
      hostResolvConf: '/dev/null',
      ports: new PortHolder(),
      findContainer: (ref) => {
        const c = containers.get(ref) ?? [...containers.values()].find((x) => x.name === ref);
        if (!c) throw Object.assign(new Error(`No such container: ${ref}`), { code: 'NOT_FOUND' });
        return c;
      },
    });
  });

  const netId = (name: string) => [...mgr.networks.values()].find((n) => n.name === name)!.id;

  it('words an ambiguous id prefix as FindNetwork does, and as the inspect route does', async () => {
    // ids are random: force two sharing a prefix
    await mgr.create(createReq('n1'));
    await mgr.create(createReq('n2'));
    const [a, b] = [netId('n1'), netId('n2')];
    // a prefix no other network's id has (the built-in networks' ids are random too)
    const p = ['ab', 'cd', 'ef', '01', '23'].find((x) => ![...mgr.networks.keys()].some((k) => k !== a && k !== b && k.startsWith(x)))!;
    for (const [old, id] of [[a, p + a.slice(2)], [b, p + b.slice(2)]]) {
      const n = mgr.networks.get(old)!;
      mgr.networks.delete(old);
      mgr.networks.set(id, { ...n, id });
    }
    expect(await fail(() => mgr.resolve(p))).toBe(`INVALID_ARGUMENT network ${p} is ambiguous (2 matches found based on ID prefix)`);
    expect(await fail(() => mgr.resolve(p, 'inspect'))).toBe(`INVALID_ARGUMENT 2 matches found based on ID prefix: network ${p} is ambiguous`);
    expect(await fail(mgr.remove(p))).toBe(`INVALID_ARGUMENT network ${p} is ambiguous (2 matches found based on ID prefix)`);
    // an exact name wins over id prefixes
    expect(mgr.resolve('n1').name).toBe('n1');
    expect(await fail(() => mgr.resolve('zz'))).toBe('NOT_FOUND network zz not found');
  });

  it('refuses a duplicate name with 409 and a predefined network removal with 403', async () => {
    await mgr.create(createReq('dup'));
    expect(await fail(mgr.create(createReq('dup')))).toBe('ALREADY_EXISTS network with name dup already exists');
    expect(await fail(mgr.remove('bridge'))).toBe('PERMISSION_DENIED bridge is a pre-defined network and cannot be removed');
    expect(await fail(mgr.remove('none'))).toBe('PERMISSION_DENIED none is a pre-defined network and cannot be removed');
    expect(await fail(mgr.create(createReq('ovl', '10.205.0.0/16')))).toBe('ok');
    expect(await fail(mgr.create(createReq('ovl2', '10.205.5.0/24')))).toBe('PERMISSION_DENIED Pool overlaps with other one on this address space');
  });

  it('allocates --ip with libnetwork classes: out of the subnet 400 (dockerd: 500), taken 403', async () => {
    await mgr.create(createReq('s', '10.210.0.0/24'));
    const n = mgr.resolve('s');
    expect(await fail(() => mgr.allocateAddress(n, '10.211.0.5'))).toBe("INVALID_ARGUMENT Invalid address 10.211.0.5: It does not belong to any of this network's subnets");
    expect(await fail(() => mgr.allocateAddress(n, '10.210.0.1'))).toBe('PERMISSION_DENIED Address already in use');
    expect(await fail(() => mgr.allocateAddress(n, '10.210.0.255'))).toBe('PERMISSION_DENIED Address already in use');
    expect(mgr.allocateAddress(n, '10.210.0.9').ip).toBe('10.210.0.9');
  });

  it('takes an ip-range outside its subnet as dockerd IPAM does (its host part)', async () => {
    expect(rangeOrdinals(parseCidr('10.34.0.0/16')!, parseCidr('10.35.1.0/24')!)).toEqual([256, 511]);
    await mgr.create({ ...createReq('r'), ipam: { driver: 'default', config: [{ subnet: '10.34.0.0/16', ipRange: '10.35.1.0/24', gateway: '', auxAddresses: {} }], options: {} } } as supervisorV1.CreateNetworkRequest);
    expect(mgr.allocateAddress(mgr.resolve('r'), '').ip).toBe('10.34.1.0');
  });

  it('lists dangling=true as 20.10 does: every user network, in use or not', async () => {
    await mgr.create(createReq('d1'));
    const dangling = mgr.list([{ key: 'dangling', values: ['true'] }]).map((n) => n.name);
    expect(dangling).toEqual(['d1']);
    expect(mgr.list([{ key: 'dangling', values: ['0'] }]).map((n) => n.name).sort()).toEqual(['bridge', 'host', 'none']);
  });

  it('prunes with label and label! as matchLabels does', async () => {
    await mgr.create({ ...createReq('l1'), labels: { a: '1', b: 'x=y' } } as supervisorV1.CreateNetworkRequest);
    await mgr.create({ ...createReq('l2'), labels: { a: '2' } } as supervisorV1.CreateNetworkRequest);
    expect(mgr.list([{ key: 'label', values: ['b=x=y'] }]).map((n) => n.name)).toEqual(['l1']);
    expect(await mgr.prune([{ key: 'label!', values: ['a=1'] }])).toEqual(['l2']);
    expect(await mgr.prune([{ key: 'label', values: ['a'] }])).toEqual(['l1']);
  });

  it('looks the container up before the network on connect and disconnect', async () => {
    expect(await fail(runs.connect('nonet', 'noctr', {}))).toBe('NOT_FOUND No such container: noctr');
    expect(await fail(runs.disconnect('nonet', 'noctr'))).toBe('NOT_FOUND No such container: noctr');
    add('c1', 'c1', 'default');
    expect(await fail(runs.connect('nonet', 'c1', {}))).toBe('NOT_FOUND network nonet not found');
  });

  it('refuses host and none networks and aliases and addresses on predefined ones with runconfig texts (400)', async () => {
    await mgr.create(createReq('u'));
    add('c1', 'c1', 'default');
    add('h1', 'h1', 'host');
    add('z1', 'z1', 'none');
    expect(await fail(runs.connect('host', 'c1', {}))).toBe('INVALID_ARGUMENT container cannot be disconnected from host network or connected to host network');
    expect(await fail(runs.connect('none', 'c1', {}))).toBe('INVALID_ARGUMENT container cannot be connected to multiple networks with one of the networks in private (none) mode');
    expect(await fail(runs.connect('u', 'h1', {}))).toBe('INVALID_ARGUMENT container sharing network namespace with another container or host cannot be connected to any other network');
    expect(await fail(runs.connect('u', 'z1', {}))).toBe('INVALID_ARGUMENT container cannot be connected to multiple networks with one of the networks in private (none) mode');
    expect(await fail(runs.connect('bridge', 'h1', { aliases: ['x'] }))).toBe('INVALID_ARGUMENT network-scoped alias is supported only for containers in user defined networks');
    expect(await fail(runs.connect('bridge', 'h1', { ipv4Address: '10.200.0.9' }))).toBe('INVALID_ARGUMENT user specified IP address is supported on user defined networks only');
    expect(await fail(runs.connect('u', 'c1', { ipv4Address: '10.201.0.9' }))).toBe('INVALID_ARGUMENT user specified IP address is supported only when connecting to networks with user configured subnets');
  });

  it('connects a stopped container twice as a no-op; disconnect texts differ stopped and running', async () => {
    await mgr.create(createReq('u'));
    add('c1', 'c1', 'u');
    expect(await fail(runs.connect('u', 'c1', {}))).toBe('ok');
    expect(await fail(runs.disconnect('bridge', 'c1'))).toBe('INTERNAL container c1 is not connected to the network bridge');
    // stopped: a network that cannot be found is named as given
    expect(await fail(runs.disconnect('gone', 'c1'))).toBe('INTERNAL container c1 is not connected to the network gone');
    expect(await fail(runs.disconnect('u', 'c1'))).toBe('ok');
    add('h1', 'h1', 'host', 4242);
    expect(await fail(runs.disconnect('host', 'h1'))).toBe('INVALID_ARGUMENT container cannot be disconnected from host network or connected to host network');
    expect(await fail(runs.disconnect('gone', 'h1'))).toBe('NOT_FOUND network gone not found');
    expect(await fail(runs.disconnect('u', 'h1'))).toBe('INTERNAL container h1 is not connected to network u');
  });

  it('checks the network and a static address at start, not at create', async () => {
    await expect(runs.validate({ id: 'c9', name: 'c9', spec: spec('nonet', { id: 'c9', endpoints: { nonet: { ipv4Address: '10.9.9.9' } as supervisorV1.EndpointConfig } }) })).resolves.toBeUndefined();
    expect(await fail(runs.prepare({ id: 'c9', name: 'c9', pid: 1, spec: spec('nonet', { id: 'c9' }) }))).toBe('NOT_FOUND network nonet not found');
    expect(await fail(runs.prepare({ id: 'c8', name: 'c8', pid: 1, spec: spec('default', { id: 'c8', endpoints: { bridge: { ipv4Address: '10.200.0.9' } as supervisorV1.EndpointConfig } }) }))).toBe(
      'INVALID_ARGUMENT user specified IP address is supported on user defined networks only',
    );
    expect(mgr.containers.get('c8')?.run).toBeUndefined();
  });
});
