import { FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { run, runOk } from '../exec';

/**
 * The kernel side of an overlay network on one node: a VXLAN device per network
 * (VNI per network, UDP 4789, `nolearning`, no group: nothing is multicast or
 * learned), enslaved to the network's bridge, and per remote endpoint a permanent
 * neighbour entry IP -> MAC and a permanent FDB entry MAC -> the owning node's VTEP.
 *
 * Why these settings:
 * - `proxy`: the device answers ARP requests for programmed IPs from its own neighbour
 *   table and drops the others (kernel vxlan arp_reduce), so ARP never crosses the
 *   underlay and the bridge needs no neigh_suppress. It also keeps the gateway address
 *   that every node's bridge carries (same IP, other MAC on each node) node-local: a
 *   gateway is never programmed as a peer, so a remote node never answers for it.
 * - No all-zeros FDB entry: broadcast, multicast and unknown unicast have no
 *   destination and are dropped by the device, so a node is sent only what is addressed
 *   to one of its endpoints.
 * - MTU 1450 on device and bridge: 50 bytes of outer Ethernet/IP/UDP/VXLAN headers keep
 *   a full container frame within the underlay's 1500. The bridge MTU is set explicitly
 *   so a later port with a larger MTU does not raise it.
 * - `addrgenmode none`: the port needs no IPv6 link-local address (its router
 *   solicitations and MLD reports would only be dropped at the device anyway).
 * - The kernel allows one device per VNI and port in a namespace whatever its `local`
 *   ("A VXLAN device with the specified VNI already exists"), so a stale device of ours
 *   holding the VNI (a network removed while the supervisor was away) is removed first.
 * - rp_filter is not involved: decapsulated frames are bridged (L2), and the outer
 *   packets arrive on the underlay from the addresses routed there.
 * - When br_netfilter is loaded (it is here), bridged overlay frames pass the node's
 *   iptables FORWARD chain as `-i <bridge> -o <bridge>` (HostNet's icc rule).
 * - The shared gateway address has one consequence: a node cannot reach a remote
 *   container from it (the reply goes to the gateway on the container's own node), so
 *   node-originated traffic (published ports, the node's own clients) reaches local
 *   containers only.
 * - Removing a peer also removes what the bridge learned for its MAC on the VXLAN port:
 *   an address handed to a container on this node gets the same MAC (derived from the
 *   address, as dockerd's), and a learned entry would send that MAC into the tunnel for
 *   up to the 300 s ageing time, where no FDB entry carries it any more.
 *
 * Entries are written with `ip -batch -` / `bridge -batch -`: one process per batch,
 * not per entry. `ip -batch` exits at the first failing `neigh del` even with -force,
 * so deletions are issued only for entries read from the kernel, after the additions.
 */

export const OVERLAY_MTU = 1450;
export const VXLAN_PORT = 4789;
const ALIAS_PREFIX = 'drydock-ovl:';

/** The alias every overlay device carries: how a restarted supervisor finds it. */
export const vxlanAlias = (netId: string): string => `${ALIAS_PREFIX}${netId}`;

/**
 * The device name, libnetwork's: `vx-<vni as 6 hex digits>-<first 5 of the network id>`,
 * 15 characters (IFNAMSIZ - 1) for any 24-bit VNI.
 */
export function vxlanName(vni: number, netId: string): string {
  checkVni(vni);
  return `vx-${vni.toString(16).padStart(6, '0')}-${netId.slice(0, 5)}`;
}

export interface VxlanEnsureInput {
  netId: string;
  vni: number;
  /** The network's bridge on this node (already made by HostNet.createBridge). */
  bridge: string;
  /** This node's underlay address (its VTEP). */
  local: string;
}

/** A remote endpoint: its address and MAC on the overlay, and the underlay address of its node. */
export interface VxlanPeer {
  ip: string;
  mac: string;
  vtep: string;
}

export interface VxlanDevice {
  name: string;
  netId: string;
  vni: number;
}

/** A VXLAN device as `ip -d -j link show type vxlan` reports it. */
export interface VxlanLink {
  name: string;
  alias: string;
  vni: number;
  local: string;
  port: number;
  learning: boolean;
  proxy: boolean;
  mtu: number;
  master?: string;
  up: boolean;
}

export function parseVxlanLinks(json: string): VxlanLink[] {
  type L = {
    ifname: string;
    ifalias?: string;
    mtu: number;
    master?: string;
    flags?: string[];
    linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean } };
  };
  const links = JSON.parse(json.trim() || '[]') as L[];
  return links
    .filter((l) => l.linkinfo?.info_kind === 'vxlan')
    .map((l) => {
      const d = l.linkinfo!.info_data ?? {};
      return {
        name: l.ifname,
        alias: l.ifalias ?? '',
        vni: d.id ?? 0,
        local: d.local ?? '',
        port: d.port ?? 0,
        learning: d.learning ?? true,
        proxy: d.proxy ?? false,
        mtu: l.mtu,
        master: l.master,
        up: (l.flags ?? []).includes('UP'),
      };
    });
}

/** Permanent neighbour entries of `ip -j neigh show dev D`: ip -> mac. */
export function parseNeigh(json: string): Map<string, string> {
  const rows = JSON.parse(json.trim() || '[]') as { dst: string; lladdr?: string; state?: string[] }[];
  const out = new Map<string, string>();
  for (const r of rows) if (r.lladdr && (r.state ?? []).includes('PERMANENT')) out.set(r.dst, r.lladdr.toLowerCase());
  return out;
}

/**
 * The device's own (`self`) FDB entries with a destination, of `bridge -j fdb show dev D`:
 * mac -> destinations (a MAC appended to several, as a flood list is, has more than one).
 * The bridge's entries for the port (`master`) are not the device's.
 */
export function parseFdb(json: string): Map<string, string[]> {
  const rows = JSON.parse(json.trim() || '[]') as { mac: string; dst?: string; master?: string; flags?: string[] }[];
  const out = new Map<string, string[]>();
  for (const r of rows) {
    if (r.master || !r.dst || !(r.flags ?? []).includes('self')) continue;
    const mac = r.mac.toLowerCase();
    out.set(mac, [...(out.get(mac) ?? []), r.dst]);
  }
  return out;
}

/** MACs the bridge learned on the port (`master` entries that are not the port's own, permanent, address). */
export function parseLearned(json: string): Set<string> {
  const rows = JSON.parse(json.trim() || '[]') as { mac: string; master?: string; state?: string }[];
  return new Set(rows.filter((r) => r.master && r.state !== 'permanent').map((r) => r.mac.toLowerCase()));
}

/** A device's entries as the kernel has them. */
export interface DeviceEntries {
  /** Permanent neighbours: ip -> mac. */
  neigh: Map<string, string>;
  /** The device's FDB: mac -> destinations. */
  fdb: Map<string, string[]>;
  /** MACs the bridge learned on the device's port. */
  learned: Set<string>;
}

export interface EnsurePlan {
  /** Devices to delete first (stale or of other parameters). */
  remove: string[];
  /** Whether the device must be made (absent, or removed above). */
  create: boolean;
}

/**
 * Whether a device carrying an overlay alias is this supervisor's: on one of its bridges, or on
 * none (its bridge went). Another supervisor in the namespace (a test's, a second stack) has
 * devices of its own on its bridges; without a prefix every such device counts as ours.
 */
export function ownDevice(l: Pick<VxlanLink, 'master'>, bridgePrefix?: string): boolean {
  return !bridgePrefix || !l.master || l.master.startsWith(bridgePrefix);
}

/**
 * The VNIs devices that are not ours hold on UDP 4789 (another engine's, another supervisor's):
 * planEnsure refuses those, so an automatic pick must skip them.
 */
export function foreignVnis(links: VxlanLink[], bridgePrefix?: string): number[] {
  const ours = (l: VxlanLink) => l.alias.startsWith(ALIAS_PREFIX) && ownDevice(l, bridgePrefix);
  return [...new Set(links.filter((l) => l.port === VXLAN_PORT && !ours(l)).map((l) => l.vni))].sort((a, b) => a - b);
}

/** What ensure must do, given the namespace's VXLAN devices (`bridgePrefix`: see ownDevice). */
export function planEnsure(links: VxlanLink[], want: VxlanEnsureInput, bridgePrefix?: string): EnsurePlan {
  const name = vxlanName(want.vni, want.netId);
  const alias = vxlanAlias(want.netId);
  const remove: string[] = [];
  let create = true;
  for (const l of links) {
    if (l.name === name) {
      const same = l.alias === alias && l.vni === want.vni && l.local === want.local && l.port === VXLAN_PORT && !l.learning && l.proxy;
      if (same) create = false;
      else remove.push(l.name);
    } else if (l.alias === alias || (l.alias.startsWith(ALIAS_PREFIX) && l.vni === want.vni && ownDevice(l, bridgePrefix))) {
      // ours under another name: an older VNI of this network, or a removed network that held this VNI
      remove.push(l.name);
    } else if (l.vni === want.vni && l.port === VXLAN_PORT) {
      throw new FailedPreconditionError(`vxlan id ${want.vni} is in use by device ${l.name} on this node`);
    }
  }
  return { remove, create };
}

export interface PeerPlan {
  /** `ip -batch` lines: additions/replacements first, then deletions. */
  neigh: string[];
  /** `bridge -batch` lines, in the same order. */
  fdb: string[];
}

/** The commands that make the device's entries exactly `peers`, from what the kernel has now. */
export function planSync(dev: string, current: DeviceEntries, peers: VxlanPeer[]): PeerPlan {
  const wantNeigh = new Map<string, string>();
  const wantFdb = new Map<string, string>();
  for (const p of peers.map(checkPeer)) {
    wantNeigh.set(p.ip, p.mac);
    wantFdb.set(p.mac, p.vtep);
  }
  const neigh: string[] = [];
  const neighDel: string[] = [];
  for (const [ip, mac] of wantNeigh) if (current.neigh.get(ip) !== mac) neigh.push(neighReplace(dev, ip, mac));
  for (const ip of current.neigh.keys()) if (!wantNeigh.has(ip)) neighDel.push(`neigh del ${ip} dev ${dev}`);
  const fdb: string[] = [];
  const fdbDel: string[] = [];
  for (const [mac, vtep] of wantFdb) {
    const dsts = current.fdb.get(mac);
    if (dsts && dsts.length === 1 && dsts[0] === vtep) continue;
    // several destinations: `replace` would change only the first; start from none
    if (dsts && dsts.length > 1) fdb.push(`fdb del ${mac} dev ${dev} self`);
    fdb.push(fdbReplace(dev, mac, vtep));
  }
  for (const mac of current.fdb.keys()) if (!wantFdb.has(mac)) fdbDel.push(`fdb del ${mac} dev ${dev} self`);
  for (const mac of current.learned) if (!wantFdb.has(mac)) fdbDel.push(`fdb del ${mac} dev ${dev} master`);
  return { neigh: [...neigh, ...neighDel], fdb: [...fdb, ...fdbDel] };
}

/** The commands that add or replace `peers`, whatever the device has. */
export function planAdd(dev: string, peers: VxlanPeer[]): PeerPlan {
  const ps = peers.map(checkPeer);
  return { neigh: ps.map((p) => neighReplace(dev, p.ip, p.mac)), fdb: ps.map((p) => fdbReplace(dev, p.mac, p.vtep)) };
}

/**
 * The commands that remove `peers`: only entries the kernel holds for them (an address
 * handed to another endpoint since keeps that endpoint's entry).
 */
export function planRemove(dev: string, current: DeviceEntries, peers: VxlanPeer[]): PeerPlan {
  const neigh: string[] = [];
  const fdb: string[] = [];
  for (const p of peers.map(checkPeer)) {
    if (current.neigh.get(p.ip) === p.mac) neigh.push(`neigh del ${p.ip} dev ${dev}`);
    if (current.fdb.get(p.mac)?.includes(p.vtep)) {
      fdb.push(`fdb del ${p.mac} dev ${dev} self`);
      if (current.learned.has(p.mac)) fdb.push(`fdb del ${p.mac} dev ${dev} master`);
    }
  }
  return { neigh, fdb };
}

const neighReplace = (dev: string, ip: string, mac: string) => `neigh replace ${ip} lladdr ${mac} dev ${dev} nud permanent`;
const fdbReplace = (dev: string, mac: string, vtep: string) => `fdb replace ${mac} dev ${dev} dst ${vtep} self permanent`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Values go into batch lines: anything but an address would be a command of its own. */
function checkPeer(p: VxlanPeer): VxlanPeer {
  const mac = p.mac.toLowerCase();
  if (!IPV4.test(p.ip) || !IPV4.test(p.vtep) || !MAC.test(mac)) throw new InvalidArgumentError(`invalid overlay peer ${JSON.stringify(p)}`);
  return { ip: p.ip, mac, vtep: p.vtep };
}

function checkVni(vni: number): void {
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) throw new InvalidArgumentError(`invalid vxlan id ${vni}`);
}

/** Whether a `bridge -force -batch` failed only at deletions of entries that were gone already. */
export function onlyMissingEntries(stderr: string): boolean {
  const errs = stderr.split('\n').filter((l) => l.trim() && !/^Command failed -:\d+$/.test(l.trim()));
  return errs.length > 0 && errs.every((l) => /No such file or directory/.test(l));
}

export interface VxlanNetOptions {
  /** Network namespace the commands act in (`ip -n`); unset: the supervisor's own (tests use it). */
  netns?: string;
  /** The overlay bridges' prefix: devices on other bridges are another supervisor's, never removed (ownDevice). */
  bridgePrefix?: string;
}

/** Makes and programs the overlay VXLAN devices of one node (see the comment at the top). */
export class VxlanNet {
  private readonly log: Logger;
  private readonly nsArgs: string[];
  private readonly bridgePrefix: string | undefined;

  constructor(logger: Logger, opts: VxlanNetOptions = {}) {
    this.log = logger.child({ component: 'vxlan' });
    this.nsArgs = opts.netns ? ['-n', opts.netns] : [];
    this.bridgePrefix = opts.bridgePrefix;
  }

  /** Makes the network's device (idempotent), replacing one of the name with other parameters. */
  async ensure(want: VxlanEnsureInput): Promise<string> {
    const name = vxlanName(want.vni, want.netId);
    if (!IPV4.test(want.local)) throw new InvalidArgumentError(`invalid vxlan local address ${want.local}`);
    const plan = planEnsure(await this.links(), want, this.bridgePrefix);
    for (const dev of plan.remove) {
      this.log.info({ netId: want.netId, dev }, 'vxlan device replaced');
      await this.delLink(dev);
    }
    if (plan.create) {
      let r = await this.ip(['link', 'add', name, ...this.addArgs(want)]);
      if (r.code !== 0 && /File exists/.test(r.stderr)) {
        // a device of that name that is no VXLAN device (the listing showed only those)
        await this.delLink(name);
        r = await this.ip(['link', 'add', name, ...this.addArgs(want)]);
      }
      if (r.code !== 0) throw new InternalError(`ip link add ${name}: ${r.stderr.trim()}`);
      this.log.info({ netId: want.netId, dev: name, vni: want.vni }, 'vxlan device created');
    }
    await this.ipOk(['link', 'set', 'dev', name, 'addrgenmode', 'none', 'alias', vxlanAlias(want.netId), 'mtu', String(OVERLAY_MTU), 'master', want.bridge, 'up']);
    await this.ipOk(['link', 'set', 'dev', want.bridge, 'mtu', String(OVERLAY_MTU)]);
    return name;
  }

  /** Removes the network's device(s), found by alias; its entries go with it. */
  async remove(netId: string): Promise<void> {
    for (const l of await this.links()) {
      if (l.alias !== vxlanAlias(netId)) continue;
      await this.delLink(l.name);
      this.log.info({ netId, dev: l.name }, 'vxlan device removed');
    }
  }

  /** Devices of ours carrying an overlay alias (the boot sweep removes those of no network). */
  async devices(): Promise<VxlanDevice[]> {
    return (await this.links()).filter((l) => l.alias.startsWith(ALIAS_PREFIX) && ownDevice(l, this.bridgePrefix)).map((l) => ({ name: l.name, netId: l.alias.slice(ALIAS_PREFIX.length), vni: l.vni }));
  }

  /** VNIs that VXLAN devices not ours hold on port 4789 here (see foreignVnis). */
  async foreignVnis(): Promise<number[]> {
    return foreignVnis(await this.links(), this.bridgePrefix);
  }

  /** Makes the device's entries exactly `peers` (reads the kernel's once). */
  async sync(netId: string, peers: VxlanPeer[]): Promise<{ changed: number }> {
    const dev = await this.deviceOf(netId);
    const plan = planSync(dev, await this.entries(dev), peers);
    await this.apply(plan);
    this.log.debug({ netId, peers: peers.length, neigh: plan.neigh.length, fdb: plan.fdb.length }, 'vxlan entries synced');
    return { changed: plan.neigh.length + plan.fdb.length };
  }

  /** Adds or replaces entries for `peers`. */
  async add(netId: string, peers: VxlanPeer[]): Promise<void> {
    if (!peers.length) return;
    await this.apply(planAdd(await this.deviceOf(netId), peers));
  }

  /** Removes the entries of `peers` (those the kernel holds for them). */
  async removeEntries(netId: string, peers: VxlanPeer[]): Promise<void> {
    if (!peers.length) return;
    const dev = await this.deviceOf(netId);
    await this.apply(planRemove(dev, await this.entries(dev), peers));
  }

  /** The device's current entries, as the kernel has them. */
  async entries(dev: string): Promise<DeviceEntries> {
    const [n, f] = await Promise.all([this.ipOk(['-j', 'neigh', 'show', 'dev', dev, 'nud', 'permanent']), this.bridgeOk(['-j', 'fdb', 'show', 'dev', dev])]);
    return { neigh: parseNeigh(n), fdb: parseFdb(f), learned: parseLearned(f) };
  }

  private async deviceOf(netId: string): Promise<string> {
    const l = (await this.links()).find((x) => x.alias === vxlanAlias(netId));
    if (!l) throw new NotFoundError(`no vxlan device for network ${netId}`);
    return l.name;
  }

  private async apply(plan: PeerPlan): Promise<void> {
    // neighbour and FDB entries are independent tables: both batches may run at once
    await Promise.all([
      plan.neigh.length ? this.batch('ip', plan.neigh) : undefined,
      plan.fdb.length ? this.batch('bridge', plan.fdb) : undefined,
    ]);
  }

  private async batch(tool: 'ip' | 'bridge', lines: string[]): Promise<void> {
    // bridge goes on past a failed line with -force: a learned entry that aged out between
    // our read and its `del` is no failure (ip exits at such a line whatever the flag)
    const r = await run(tool, [...this.nsArgs, ...(tool === 'bridge' ? ['-force'] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
    if (r.code === 0 || (tool === 'bridge' && onlyMissingEntries(r.stderr))) return;
    throw new InternalError(`${tool} -batch (${lines.length} commands): ${r.stderr.trim()}`);
  }

  private addArgs(want: VxlanEnsureInput): string[] {
    return ['type', 'vxlan', 'id', String(want.vni), 'dstport', String(VXLAN_PORT), 'local', want.local, 'nolearning', 'proxy'];
  }

  private async links(): Promise<VxlanLink[]> {
    return parseVxlanLinks(await this.ipOk(['-d', '-j', 'link', 'show', 'type', 'vxlan']));
  }

  private async delLink(name: string): Promise<void> {
    const r = await this.ip(['link', 'del', 'dev', name]);
    if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) throw new InternalError(`ip link del ${name}: ${r.stderr.trim()}`);
  }

  private ip(args: string[]) {
    return run('ip', [...this.nsArgs, ...args]);
  }

  private async ipOk(args: string[]): Promise<string> {
    try {
      return await runOk('ip', [...this.nsArgs, ...args]);
    } catch (e) {
      throw new InternalError((e as Error).message, { cause: e });
    }
  }

  private async bridgeOk(args: string[]): Promise<string> {
    try {
      return await runOk('bridge', [...this.nsArgs, ...args]);
    } catch (e) {
      throw new InternalError((e as Error).message, { cause: e });
    }
  }
}
