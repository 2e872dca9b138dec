import { AlreadyExistsError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '@drydock/errors';
import { expandPools, formatCidr, formatIp, overlaps, parseCidr, parseIp, type Cidr } from '../cidr';
import { freeSubnet, pickAddress, reservedAddresses } from '../ipam';
import type { CreateOverlayInput, OverlayNetworkRecord } from './overlay-types';

/**
 * The rules both overlay stores (KV, files) apply, as pure functions over the state the
 * store read: the store makes the write atomic, these decide what it writes.
 */

/** All overlay networks by id: one value, so a create checks name, subnet and VNI in one write. */
export type OverlayTable = Record<string, OverlayNetworkRecord>;

/** The VNIs picked when none is asked for start here (libnetwork's overlay starts at 4096 too). */
export const VNI_AUTO_MIN = 4096;
export const VNI_MAX = 16777215;

/**
 * The record `input` makes on top of `table`, or the record already there when `table`
 * holds its id (a create repeated after a lost answer). `foreignSubnets`: what other nodes
 * published as their local subnets.
 */
export function admitNetwork(table: OverlayTable, input: CreateOverlayInput, foreignSubnets: string[]): OverlayNetworkRecord {
  const { record } = input;
  const same = table[record.id];
  if (same && same.name === record.name) return same;
  const all = Object.values(table);
  if (all.some((n) => n.name === record.name)) throw new AlreadyExistsError(`network with name ${record.name} already exists`);
  const taken = [...all.flatMap((n) => n.pools.map((p) => p.subnet)), ...input.localSubnets, ...foreignSubnets].map(cidrOf);
  let pools = record.pools;
  if (pools.length === 0) {
    const subnet = freeSubnet(expandPools(input.pools), taken);
    pools = [{ subnet: formatCidr(subnet), gateway: formatIp(subnet.base + 1), auto: true }];
  } else {
    for (const p of pools) {
      const c = cidrOf(p.subnet);
      if (taken.some((t) => overlaps(t, c))) throw new PermissionDeniedError('Pool overlaps with other one on this address space');
    }
  }
  return { ...record, pools, vni: pickVni(all, input.vni, input.avoidVnis), state: 'ready' };
}

/**
 * The wanted VNI when free, else the lowest free one from VNI_AUTO_MIN that `avoid` (VNIs
 * foreign devices hold on the node) does not hold either.
 */
export function pickVni(networks: OverlayNetworkRecord[], wanted: number, avoid: number[] = []): number {
  const used = new Set(networks.map((n) => n.vni));
  if (wanted) {
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > VNI_MAX) throw new InvalidArgumentError(`invalid vxlan id value ${wanted}: it must be between 1 and ${VNI_MAX}`);
    if (used.has(wanted)) throw new InvalidArgumentError(`vxlan id ${wanted} is already in use by another overlay network`);
    return wanted;
  }
  for (const v of avoid) used.add(v);
  for (let v = VNI_AUTO_MIN; v <= VNI_MAX; v++) if (!used.has(v)) return v;
  throw new InvalidArgumentError('no vxlan id left');
}

/**
 * How long a 'removing' mark may stand before it counts as left by a remover that crashed: a
 * remove lists one network's leases between its mark and its delete (well under a second, up to
 * the store's 10 s of riding out a leaderless JetStream).
 */
export const REMOVING_STALE_MS = 30000;

/**
 * The table with network `id` in state `state` ('removing' stamped `now`, which also tells this
 * mark from a later one); NotFoundError when it is not there.
 */
export function withState(table: OverlayTable, id: string, state: OverlayNetworkRecord['state'], now = Date.now()): OverlayTable {
  const n = table[id];
  if (!n) throw networkNotFound(id);
  const rest = { ...n };
  delete rest.removingSince;
  return { ...table, [id]: state === 'removing' ? { ...rest, state, removingSince: now } : { ...rest, state } };
}

/** The table without network `id`. */
export function without(table: OverlayTable, id: string): OverlayTable {
  const rest = { ...table };
  delete rest[id];
  return rest;
}

/** Whether `n` is still 'removing' under the mark stamped `since` (not undone, not made again). */
export function isMark(n: OverlayNetworkRecord | undefined, since: number | undefined): n is OverlayNetworkRecord {
  return n?.state === 'removing' && n.removingSince === since;
}

/** A 'removing' mark older than `staleMs` (or of no time: written before marks had one). */
export function staleRemoving(n: OverlayNetworkRecord | undefined, staleMs: number, now = Date.now()): boolean {
  return n?.state === 'removing' && (n.removingSince === undefined || now - n.removingSince >= staleMs);
}

export function networkNotFound(id: string): NotFoundError {
  return new NotFoundError(`network ${id} not found`);
}

/** dockerd's text for removing a network that still has endpoints (403). */
export function activeEndpoints(n: OverlayNetworkRecord): PermissionDeniedError {
  return new PermissionDeniedError(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
}

/** A network leases may be taken on (ready), or NotFoundError. */
export function leasable(n: OverlayNetworkRecord | undefined, id: string): OverlayNetworkRecord {
  if (!n || n.state !== 'ready') throw networkNotFound(id);
  return n;
}

/** The address to try next: ipam.ts pickAddress over the reserved addresses and `held` ones. */
export function nextAddress(n: OverlayNetworkRecord, held: Iterable<number>, requested: string): { ip: string; prefix: number; gateway: string; n: number } {
  const used = reservedAddresses(n);
  for (const ip of held) used.add(ip);
  const a = pickAddress(n, used, requested);
  return { ...a, n: parseIp(a.ip)! };
}

/** Whether a subnet (of a bridge network the node is about to make) overlaps an overlay. */
export function overlapsOverlay(table: OverlayTable, subnet: string): boolean {
  const c = cidrOf(subnet);
  return Object.values(table).some((n) => n.pools.some((p) => overlaps(cidrOf(p.subnet), c)));
}

function cidrOf(s: string): Cidr {
  const c = parseCidr(s);
  if (!c) throw new InvalidArgumentError(`invalid CIDR address: ${s}`);
  return c;
}
