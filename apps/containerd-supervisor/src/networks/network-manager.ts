import { randomBytes } from 'node:crypto';
import type { Logger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnavailableError } from '@drydock/errors';
import { CrashPoints } from '@drydock/runtime';
import { KeyedLock } from '../containers/keyed-lock';
import { contains, expandPools, formatCidr, formatIp, overlaps, parseCidr, parseIp, type Cidr } from './cidr';
import type { NetworkCrashPoints } from './crash-points';
import type { HostNet } from './host-net';
import type { ContainerNetRecord, IpamPoolRecord, NetworkRecord } from './network-record';
import type { NetworkStore } from './network-store';
import type { OverlayNetworks } from './overlay/overlay-networks';
import type { OverlayNetworkRecord } from './overlay/overlay-types';
import { freeSubnet, pickAddress, reservedAddresses } from './ipam';

export { rangeOrdinals } from './ipam';

export interface NetworkManagerOptions {
  /** Host bridge of the default `bridge` network (never "docker0": dockerd --bridge=none deletes it). */
  defaultBridge: string;
  /** Prefix of user networks' bridges: <prefix><id...> within 15 characters ("br-" + 12 as dockerd). */
  bridgePrefix: string;
  /** Candidate subnets ("base/len[:size]"), dockerd's list by default. */
  pools: string[];
}

export type NetworkEventSink = (action: 'create' | 'destroy' | 'connect' | 'disconnect', net: NetworkRecord, containerId?: string) => void;

const BUILTIN = new Set(['bridge', 'host', 'none']);
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** dockerd's overlay option naming the VNI ("4097" or a list, of which the first is used). */
export const VXLANID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
const nowNs = (): string => (BigInt(Date.now()) * 1000000n).toString();
const newId = (): string => randomBytes(32).toString('hex');

/**
 * The node's networks: records in the NetworkStore (the only source of truth),
 * kernel objects made after the record is written and found again by the id they
 * carry. Container endpoints are the NetworkRuns' (network-runs.ts); this class
 * owns the network records and the per-container records both share.
 */
export class NetworkManager {
  readonly log: Logger;
  readonly networks = new Map<string, NetworkRecord>();
  readonly containers = new Map<string, ContainerNetRecord>();
  /** Network creates/removes and address/port allocations run one at a time. */
  readonly lock = new KeyedLock();
  private readonly pools: Cidr[];
  onEvent: NetworkEventSink = () => undefined;
  /** Overlay networks (driver "overlay"), when this node runs them. */
  overlay?: OverlayNetworks;

  constructor(
    readonly store: NetworkStore,
    readonly host: HostNet,
    readonly opts: NetworkManagerOptions,
    logger: Logger,
    /** Test hook: where a create may be made to crash (none armed on a node). */
    private readonly crash: NetworkCrashPoints = new CrashPoints(),
  ) {
    this.log = logger.child({ component: 'networks' });
    this.pools = expandPools(opts.pools);
  }

  /** Loads the records, removes what a crash left half-made, re-applies rules, makes the built-ins. */
  async init(): Promise<void> {
    await this.host.ensureBase();
    for (const n of await this.store.loadNetworks()) this.networks.set(n.id, n);
    for (const c of await this.store.loadContainers()) this.containers.set(c.containerId, c);
    for (const n of [...this.networks.values()]) {
      if (n.state === 'creating') {
        this.log.warn({ networkId: n.id, name: n.name }, 'removing a network a crash left half-made');
        await this.destroyKernel(n);
        await this.store.deleteNetwork(n.id);
        this.networks.delete(n.id);
      } else if (n.driver === 'bridge') {
        // kernel state normally survives us untouched; an iptables flush or reboot does not
        await this.makeKernel(n);
      } else if (n.driver === 'overlay' && this.overlay) {
        // a mirror of the cluster's record: remade now, checked against the store once it is reached
        await this.overlay.ensureKernel(n).catch((err) => this.log.warn({ err, networkId: n.id }, 'overlay network not remade'));
      }
    }
    await this.removeStrays();
    await this.ensureBuiltins();
  }

  /** Bridges and rules that carry a Drydock network id no record has. */
  private async removeStrays(): Promise<void> {
    for (const b of await this.host.bridges()) {
      const id = /^drydock-net:([0-9a-f]{64})$/.exec(b.alias)?.[1];
      const ours = b.name === this.opts.defaultBridge || b.name.startsWith(this.opts.bridgePrefix) || (this.overlay && b.name.startsWith(this.overlay.opts.bridgePrefix));
      if (id && !this.networks.has(id) && ours) {
        this.log.warn({ bridge: b.name, networkId: id }, 'removing a stray bridge');
        await this.host.deleteBridge(b.name);
      }
    }
    for (const id of await this.host.ruleNetworkIds()) if (!this.networks.has(id)) await this.host.removeRules(id);
  }

  private async ensureBuiltins(): Promise<void> {
    const byName = (name: string) => [...this.networks.values()].find((n) => n.name === name && n.builtin);
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (!byName(name)) await this.putNetwork(this.record({ name, driver, builtin: true, state: 'ready' }));
    }
    if (byName('bridge')) return;
    // dockerd keeps the address a default bridge already has, else the first pool no route overlaps
    const existing = (await this.host.bridges()).find((b) => b.name === this.opts.defaultBridge);
    const have = existing?.addrs[0];
    let subnet: Cidr;
    let gateway: string;
    if (have) {
      subnet = parseCidr(have)!;
      gateway = have.split('/')[0];
    } else {
      subnet = await this.freePool();
      gateway = formatIp(subnet.base + 1);
    }
    const n = this.record({
      name: 'bridge',
      driver: 'bridge',
      builtin: true,
      pools: [{ subnet: formatCidr(subnet), gateway }],
      bridge: this.opts.defaultBridge,
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        [ICC_OPTION]: 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        [BRIDGE_NAME_OPTION]: this.opts.defaultBridge,
        'com.docker.network.driver.mtu': '1500',
      },
    });
    await this.putNetwork(n);
    await this.makeKernel(n);
    n.state = 'ready';
    await this.putNetwork(n);
  }

  private record(p: Partial<NetworkRecord> & { name: string; driver: string }): NetworkRecord {
    return {
      id: newId(),
      createdNs: nowNs(),
      internal: false,
      attachable: false,
      enableIpv6: false,
      ipamDriver: 'default',
      ipamOptions: {},
      pools: [],
      options: {},
      labels: {},
      builtin: false,
      icc: true,
      state: 'creating',
      ...p,
    };
  }

  async putNetwork(n: NetworkRecord): Promise<void> {
    await this.store.putNetwork(n);
    this.networks.set(n.id, n);
  }

  /** The overlay's view of this node's records (its mirror of the cluster's overlay networks). */
  overlayMirror() {
    return {
      put: (n: NetworkRecord) => this.putNetwork(n),
      drop: async (n: NetworkRecord) => {
        await this.store.deleteNetwork(n.id);
        this.networks.delete(n.id);
      },
      known: () => [...this.networks.values()],
      hasLocalEndpoints: (netId: string) => this.endpointsOn(netId).length > 0,
    };
  }

  /** `afterBridge` runs between the bridge and its rules (a create's crash point; boot re-makes pass none). */
  private async makeKernel(n: NetworkRecord, afterBridge: () => void = () => undefined): Promise<void> {
    const pool = n.pools[0];
    if (!n.bridge || !pool) return;
    const subnet = parseCidr(pool.subnet)!;
    await this.host.createBridge(n.bridge, `${pool.gateway}/${subnet.prefix}`, n.id);
    afterBridge();
    await this.host.addRules({ id: n.id, bridge: n.bridge, subnet: pool.subnet, internal: n.internal, icc: n.icc });
  }

  private async destroyKernel(n: NetworkRecord): Promise<void> {
    await this.host.removeRules(n.id);
    if (n.bridge) {
      const b = (await this.host.bridges()).find((x) => x.name === n.bridge);
      // only a bridge that is ours (a custom bridge name may be someone else's)
      if (b && b.alias === `drydock-net:${n.id}`) await this.host.deleteBridge(n.bridge);
    }
  }

  /** The first candidate pool that overlaps no host route and no network of ours. */
  private async freePool(): Promise<Cidr> {
    return freeSubnet(this.pools, [...(await this.host.routes()), ...this.subnets()]);
  }

  /** This node's own networks' subnets (not the overlays'), which no overlay may overlap. */
  localSubnets(): string[] {
    return [...this.networks.values()].filter((n) => n.driver !== 'overlay').flatMap((n) => n.pools.map((p) => p.subnet));
  }

  private subnets(): Cidr[] {
    return [...this.networks.values()].flatMap((n) => n.pools.map((p) => parseCidr(p.subnet)!));
  }

  /**
   * dockerd's lookup order: exact id, exact name, unique id prefix. Two prefix matches are
   * told apart as each path words it: FindNetwork/findUniqueNetwork (connect, run, rm) or
   * the inspect route's wrapped error (`for: 'inspect'`).
   */
  resolve(ref: string, purpose: 'find' | 'inspect' = 'find'): NetworkRecord {
    const all = [...this.networks.values()];
    const hit = this.networks.get(ref) ?? all.find((n) => n.name === ref);
    if (hit) return hit;
    const byPrefix = ref ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) {
      throw new InvalidArgumentError(
        purpose === 'inspect' ? `${byPrefix.length} matches found based on ID prefix: network ${ref} is ambiguous` : `network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`,
      );
    }
    throw new NotFoundError(`network ${ref} not found`);
  }

  /** Containers with an endpoint (a running attachment) on the network. */
  endpointsOn(netId: string): { containerId: string; ep: NonNullable<ContainerNetRecord['run']>['endpoints'][number] }[] {
    const out = [];
    for (const c of this.containers.values()) for (const ep of c.run?.endpoints ?? []) if (ep.networkId === netId) out.push({ containerId: c.containerId, ep });
    return out;
  }

  create(req: supervisorV1.CreateNetworkRequest): Promise<{ id: string; warning: string }> {
    return this.lock.run('networks', () => this.createLocked(req));
  }

  private async createLocked(req: supervisorV1.CreateNetworkRequest): Promise<{ id: string; warning: string }> {
    const name = req.name ?? '';
    if (!name) throw new InvalidArgumentError('network name must not be empty');
    if ([...this.networks.values()].some((n) => n.name === name)) throw new AlreadyExistsError(`network with name ${name} already exists`);
    const driver = req.driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new PermissionDeniedError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge' && driver !== 'overlay') throw new NotFoundError(`plugin "${driver}" not found`);
    const options = { ...(req.options ?? {}) };
    const icc = (options[ICC_OPTION] ?? 'true') !== 'false';
    if (driver === 'overlay') return this.createOverlay(req, name, options, icc);
    const pool = this.requestedPool(req) ?? (await this.autoPool());
    const id = newId();
    const bridge = options[BRIDGE_NAME_OPTION] || `${this.opts.bridgePrefix}${id.slice(0, 15 - this.opts.bridgePrefix.length)}`;
    if (bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(bridge)) throw new InvalidArgumentError(`invalid bridge name ${bridge}`);
    if ([...this.networks.values()].some((n) => n.bridge === bridge)) throw new PermissionDeniedError(`bridge name ${bridge} is already in use by another network`);
    const n = this.record({
      id,
      name,
      driver: 'bridge',
      internal: !!req.internal,
      attachable: !!req.attachable,
      enableIpv6: !!req.enableIpv6,
      ipamDriver: req.ipam?.driver || 'default',
      ipamOptions: req.ipam?.options ?? {},
      pools: [pool],
      options,
      labels: req.labels ?? {},
      bridge,
      icc,
    });
    // record first: a crash from here on is found and undone at boot
    await this.putNetwork(n);
    this.crash.reach('network-create:recorded');
    try {
      await this.makeKernel(n, () => this.crash.reach('network-create:bridge'));
      this.crash.reach('network-create:rules');
    } catch (err) {
      await this.destroyKernel(n).catch(() => undefined);
      await this.store.deleteNetwork(n.id);
      this.networks.delete(n.id);
      throw err;
    }
    n.state = 'ready';
    await this.putNetwork(n);
    this.onEvent('create', n);
    return { id, warning: '' };
  }

  private async autoPool(): Promise<IpamPoolRecord> {
    const subnet = await this.freePool();
    return { subnet: formatCidr(subnet), gateway: formatIp(subnet.base + 1), auto: true };
  }

  /**
   * An overlay network: taken in the cluster's store in one atomic write (name among the
   * overlays, subnet, VNI), then its kernel objects here; every other node makes its own
   * when it sees the record. A node-local network's name is refused here first.
   */
  private async createOverlay(req: supervisorV1.CreateNetworkRequest, name: string, options: Record<string, string>, icc: boolean): Promise<{ id: string; warning: string }> {
    const overlay = this.overlay;
    if (!overlay?.ready) throw new UnavailableError('overlay networks need the cluster store, which is not reachable yet');
    const pool = this.requestedPool(req, 'GlobalDefault');
    const vniText = (options[VXLANID_OPTION] ?? '').split(',')[0].trim();
    const vni = vniText ? Number(vniText) : 0;
    if (vniText && (!/^\d+$/.test(vniText) || vni < 1 || vni > 16777215)) throw new InvalidArgumentError(`invalid vxlan id value "${vniText}" passed`);
    const id = newId();
    const local = [...(await this.host.routes()).map(formatCidr), ...this.localSubnets()];
    const rec = await overlay.store.createNetwork({
      record: {
        ...this.record({ id, name, driver: 'overlay', options, labels: req.labels ?? {}, icc }),
        driver: 'overlay',
        internal: !!req.internal,
        attachable: !!req.attachable,
        enableIpv6: !!req.enableIpv6,
        ipamDriver: req.ipam?.driver || 'default',
        ipamOptions: req.ipam?.options ?? {},
        pools: pool ? [pool] : [],
        bridge: overlay.bridgeName(id),
        creatorNode: overlay.opts.nodeId,
      },
      vni,
      // another engine's device on this node would make the kernel refuse a VNI picked for us
      ...(vni ? {} : { avoidVnis: await overlay.foreignVnis() }),
      localSubnets: local,
      pools: overlay.opts.pools,
    });
    const mine: OverlayNetworkRecord = { ...rec, state: 'ready' };
    try {
      await this.putNetwork(mine);
      await overlay.ensureKernel(mine);
    } catch (err) {
      // nothing half-made: the record is taken back from the cluster
      await overlay.destroyKernel(mine).catch(() => undefined);
      await overlay.store.removeNetwork(id).catch(() => undefined);
      await this.store.deleteNetwork(id);
      this.networks.delete(id);
      throw err;
    }
    this.onEvent('create', mine);
    return { id, warning: '' };
  }

  /** The pool a create asks for (undefined: pick one), checked as libnetwork's IPAM checks it. */
  private requestedPool(req: supervisorV1.CreateNetworkRequest, space = 'LocalDefault'): IpamPoolRecord | undefined {
    const configs = req.ipam?.config ?? [];
    if (configs.length > 1) throw new InvalidArgumentError('only one IPv4 address pool is supported on this node');
    const cfg = configs[0];
    if (cfg?.subnet) {       const subnet = parseCidr(cfg.subnet);
      if (!subnet || cfg.subnet.includes(':')) throw new InvalidArgumentError(`invalid CIDR address: ${cfg.subnet}`);
      if (this.subnets().some((s) => overlaps(s, subnet))) throw new PermissionDeniedError('Pool overlaps with other one on this address space');
      let range: Cidr | undefined;
      if (cfg.ipRange) {
        range = parseCidr(cfg.ipRange);
        // a range outside the subnet is taken as dockerd's IPAM takes it (only its host part counts)
        if (!range) throw new InvalidArgumentError(`failed to parse pool request for address space "${space}" pool "${cfg.subnet}" subpool "${cfg.ipRange}": Invalid Address SubPool`);
      }
      let gw = subnet.base + 1;
      if (cfg.gateway) {
        const g = parseIp(cfg.gateway);
        if (g === undefined) throw new InvalidArgumentError(`invalid gateway address ${cfg.gateway}`);
        if (!contains(subnet, g)) throw new InvalidArgumentError(`Invalid gateway ${cfg.gateway}: it must be inside subnet ${cfg.subnet}`);
        gw = g;
      }
      return { subnet: formatCidr(subnet), gateway: formatIp(gw), ...(range ? { ipRange: formatCidr(range) } : {}), ...(cfg.auxAddresses && Object.keys(cfg.auxAddresses).length ? { auxAddresses: cfg.auxAddresses } : {}) };
    }
    if (cfg?.gateway || cfg?.ipRange) throw new InvalidArgumentError('subnet is required for the gateway and ip-range');
    return undefined;
  }


  remove(ref: string): Promise<void> {
    return this.lock.run('networks', async () => {
      const n = this.resolve(ref);
      if (n.builtin) throw new PermissionDeniedError(`${n.name} is a pre-defined network and cannot be removed`);
      if (this.endpointsOn(n.id).length) throw new PermissionDeniedError(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      if (n.driver === 'overlay') {
        // refused there while any node holds an address on it; the other nodes follow the store
        if (!this.overlay?.ready) throw new UnavailableError('overlay networks need the cluster store, which is not reachable yet');
        await this.overlay.store.removeNetwork(n.id);
        await this.overlay.destroyKernel(n);
        await this.store.deleteNetwork(n.id);
        this.networks.delete(n.id);
        this.onEvent('destroy', n);
        return;
      }
      await this.destroyKernel(n);
      await this.store.deleteNetwork(n.id);
      this.networks.delete(n.id);
      this.onEvent('destroy', n);
    });
  }

  async prune(filters: supervisorV1.Filter[]): Promise<string[]> {
    const deleted: string[] = [];
    for (const n of this.list(filters)) {
      if (n.builtin || this.endpointsOn(n.id).length) continue;
      try {
        await this.remove(n.id);
        deleted.push(n.name);
      } catch (err) {
        this.log.warn({ err, networkId: n.id }, 'prune: network not removed');
      }
    }
    return deleted;
  }

  /** docker network ls filters (driver, id, name, label, scope, type, dangling, until for prune). */
  list(filters: supervisorV1.Filter[]): NetworkRecord[] {
    const all = [...this.networks.values()].filter((n) => n.state === 'ready');
    return all.filter((n) =>
      filters.every((f) => {
        const vs = f.values ?? [];
        if (!vs.length) return true;
        switch (f.key) {
          case 'driver':
            return vs.includes(n.driver);
          case 'name':
            return vs.some((v) => safeRegex(v).test(n.name));
          case 'id':
            return vs.some((v) => safeRegex(v).test(n.id));
          case 'scope':
            return vs.includes(scopeOf(n));
          case 'type':
            return vs.some((v) => (v === 'builtin' ? n.builtin : v === 'custom' ? !n.builtin : false));
          case 'label':
            return vs.every((v) => hasLabel(n.labels, v));
          case 'label!':
            // prune's matchLabels: left out when every label! term matches
            return !vs.every((v) => hasLabel(n.labels, v));
          case 'dangling': {
            // dockerd 20.10 filters before it fills Containers (daemon/network.go GetNetworks), so
            // every network looks unused: true lists the user networks, false the predefined ones
            const dangling = !n.builtin;
            return vs.some((v) => (v === 'true' || v === '1' ? dangling : !dangling));
          }
          case 'until':
            return vs.every((v) => BigInt(n.createdNs) <= untilNs(v));
          default:
            throw new InvalidArgumentError(`Invalid filter '${f.key}'`);
        }
      }),
    );
  }

  /** Addresses in use on a network (gateway, aux addresses, every endpoint's lease). */
  usedAddresses(n: NetworkRecord): Set<number> {
    const used = reservedAddresses(n);
    for (const { ep } of this.endpointsOn(n.id)) used.add(parseIp(ep.ip)!);
    return used;
  }

  /** ipam.ts pickAddress over this node's leases. The caller writes the lease. */
  allocateAddress(n: NetworkRecord, requested: string): { ip: string; prefix: number; gateway: string } {
    return pickAddress(n, this.usedAddresses(n), requested);
  }
}

/** filters.MatchKVList's test of one term: `k` present, or `k=v` equal (the value may hold '='). */
function hasLabel(labels: Record<string, string>, term: string): boolean {
  const eq = term.indexOf('=');
  return eq < 0 ? term in labels : labels[term.slice(0, eq)] === term.slice(eq + 1);
}

function safeRegex(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    return new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

function untilNs(v: string): bigint {
  if (/^\d+(\.\d+)?$/.test(v)) return BigInt(Math.floor(Number(v) * 1000)) * 1000000n;
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return BigInt(Date.now() - Number(d[1]) * { s: 1000, m: 60000, h: 3600000 }[d[2] as 's' | 'm' | 'h']) * 1000000n;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`failed to parse value as time or duration: "${v}"`);
  return BigInt(t) * 1000000n;
}

export const isBuiltinName = (name: string): boolean => BUILTIN.has(name);

/** dockerd's scope: overlay networks are the swarm's. */
export const scopeOf = (n: NetworkRecord): string => (n.driver === 'overlay' ? 'swarm' : 'local');
