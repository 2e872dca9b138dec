import { InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '@drydock/errors';
import { contains, formatIp, mask, overlaps, parseCidr, parseIp, size, type Cidr } from './cidr';
import type { NetworkRecord } from './network-record';

/** What the address rules read of a network (bridge and overlay records alike). */
export type AddressedNetwork = Pick<NetworkRecord, 'id' | 'name' | 'pools'>;

/**
 * The address and pool rules every network store shares (node-local bridges, overlays in
 * KV or in files): pure functions over what the caller knows to be taken.
 */

/** The first candidate subnet overlapping none of `taken` (dockerd's default-pool walk). */
export function freeSubnet(candidates: Cidr[], taken: Cidr[]): Cidr {
  const p = candidates.find((c) => !taken.some((t) => overlaps(t, c)));
  // libnetwork's types.NotFoundErrorf: 404
  if (!p) throw new NotFoundError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  return p;
}

/** Addresses of a network no endpoint may have: its gateways and aux addresses. */
export function reservedAddresses(n: AddressedNetwork): Set<number> {
  const used = new Set<number>();
  for (const p of n.pools) {
    used.add(parseIp(p.gateway)!);
    for (const a of Object.values(p.auxAddresses ?? {})) {
      const ip = parseIp(a);
      if (ip !== undefined) used.add(ip);
    }
  }
  return used;
}

/**
 * The address allocator: the requested address if free, else the lowest free one of
 * the ip-range (dockerd hands a freed address out again). `used` holds the reserved
 * addresses and the leases; the caller writes the lease.
 */
export function pickAddress(n: AddressedNetwork, used: Set<number>, requested: string): { ip: string; prefix: number; gateway: string } {
  const pool = n.pools[0];
  if (!pool) throw new InvalidArgumentError(`network ${n.name} has no IPv4 pool`);
  const subnet = parseCidr(pool.subnet)!;
  if (requested) {
    const ip = parseIp(requested);
    // libnetwork's BadRequest errors have no errdefs class in 20.10: 500; ErrIPAlreadyAllocated is Forbidden: 403
    if (ip === undefined || !contains(subnet, ip)) throw new InvalidArgumentError(`Invalid address ${requested}: It does not belong to any of this network's subnets`);
    if (used.has(ip) || ip === subnet.base || ip === (subnet.base | ~mask(subnet.prefix)) >>> 0) throw new PermissionDeniedError('Address already in use');
    return { ip: requested, prefix: subnet.prefix, gateway: pool.gateway };
  }
  const last = (subnet.base + size(subnet) - 1) >>> 0;
  const [lo, hi] = rangeOrdinals(subnet, pool.ipRange ? parseCidr(pool.ipRange)! : subnet);
  for (let i = lo; i <= hi; i++) {
    const ip = (subnet.base + i) >>> 0;
    if (ip === subnet.base || ip === last || used.has(ip)) continue;
    return { ip: formatIp(ip), prefix: subnet.prefix, gateway: pool.gateway };
  }
  throw new InternalError(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`);
}

/**
 * libnetwork ipam getAddressRange: a range's first and last address as host parts of the
 * subnet, so a range outside it (which dockerd's API accepts) selects the same offsets.
 */
export function rangeOrdinals(subnet: Cidr, range: Cidr): [number, number] {
  const host = ~mask(subnet.prefix) >>> 0;
  const broadcast = (range.base | (~mask(range.prefix) >>> 0)) >>> 0;
  return [(range.base & host) >>> 0, (broadcast & host) >>> 0];
}
