import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError, NotFoundError, NotImplementedError, PermissionDeniedError } from '@drydock/errors';
import type { FilterArgs } from '../http/query';
import { parseFilterTime } from './filters';
import { cidrContains, cidrOverlaps, parseCidr, parseIp, isReserved, type Cidr } from './ip';
import type { EndpointSettingsBody, NetworkConnectBody, NetworkCreateBody, NetworkDisconnectBody } from './request-bodies';

/** runconfig.IsPreDefinedNetwork: names a user network cannot take. */
const PREDEFINED = new Set(['bridge', 'host', 'none', 'default']);
export const isPredefinedNetworkName = (name: string): boolean => PREDEFINED.has(name);
/** Drivers dockerd 20.10 has built in that this node does not run. */
const UNSUPPORTED_BUILTIN = new Set(['macvlan', 'ipvlan']);

/**
 * POST /networks/create, checked as far as no node state is needed, in dockerd's order
 * (daemon/network.go createNetwork, then libnetwork's NewNetwork and its IPAM): a
 * predefined name, the driver, the subnets, the name, the IPAM driver, gateways, ranges
 * and auxiliary addresses. Duplicate names and overlaps with existing networks are the
 * supervisor's. dockerd answers the malformed ones with 500 (plain errors and libnetwork's
 * BadRequest with no errdefs class); they are the client's: 400, with dockerd's texts. Its
 * Forbidden ones stay 403.
 */
export function parseNetworkCreate(b: NetworkCreateBody | undefined): supervisorV1.CreateNetworkRequest {
  const body = b ?? {};
  const name = body.Name ?? '';
  if (PREDEFINED.has(name)) throw new PermissionDeniedError(`operation is not permitted on predefined ${name} network `);
  const driver = body.Driver || 'bridge';
  const configs = body.IPAM?.Config ?? [];
  const subnets: Cidr[] = configs.map((c) => {
    const s = parseCidr(c.Subnet ?? '');
    if (!s) throw new InvalidArgumentError(`Invalid subnet ${c.Subnet ?? ''} : invalid CIDR address: ${c.Subnet ?? ''}`);
    return s;
  });
  if (name.trim() === '') throw new InvalidArgumentError(`invalid name: ${name}`);
  if (driver === 'host' || driver === 'null') throw new PermissionDeniedError(`only one instance of "${driver}" network is allowed`);
  if (UNSUPPORTED_BUILTIN.has(driver)) throw new NotImplementedError(`network driver ${driver} is not supported on this node`);
  // overlay: a network spanning the cluster's nodes (swarm scope, as dockerd reports it)
  if (driver !== 'bridge' && driver !== 'overlay') throw new NotFoundError(`plugin "${driver}" not found`);
  const scope = body.Scope ?? '';
  if (driver === 'bridge' && (scope === 'swarm' || scope === 'global')) throw new PermissionDeniedError('cannot create a swarm scoped network when swarm is not active');
  if (body.Ingress) throw new PermissionDeniedError('Ingress network can only be global scope network');
  const ipamDriver = body.IPAM?.Driver || 'default';
  if (ipamDriver !== 'default') throw new NotFoundError(`plugin "${ipamDriver}" not found`);
  for (const c of configs) {
    if (c.Gateway && !parseIp(c.Gateway)) throw new InvalidArgumentError(`invalid gateway address ${c.Gateway} in Ipam configuration`);
  }
  // libnetwork's allocation, per pool in order: the sub-pool, the pool against the earlier
  // ones, the gateway, then the auxiliary addresses
  configs.forEach((c, i) => {
    const pool = subnets[i];
    if (c.IPRange && !parseCidr(c.IPRange)) {
      throw new InvalidArgumentError(`failed to parse pool request for address space "LocalDefault" pool "${c.Subnet}" subpool "${c.IPRange}": Invalid Address SubPool`);
    }
    if (subnets.slice(0, i).some((s) => cidrOverlaps(s, pool))) throw new PermissionDeniedError('Pool overlaps with other one on this address space');
    const gw = c.Gateway ? parseIp(c.Gateway)! : undefined;
    if (gw) {
      if (!cidrContains(pool, gw)) throw new InvalidArgumentError(`failed to allocate gateway (${c.Gateway}): Requested address is out of range`);
      if (isReserved(pool, gw)) throw new InvalidArgumentError(`failed to allocate gateway (${c.Gateway}): Address already in use`);
    } else if (pool.ip.length === 4 && pool.prefix >= 31) {
      throw new InvalidArgumentError('failed to allocate gateway (): No available addresses on this pool');
    }
    // without a gateway libnetwork takes the pool's first address before the auxiliary ones
    const taken = gw ?? firstHost(pool);
    for (const [k, v] of Object.entries(c.AuxiliaryAddresses ?? {})) {
      const ip = parseIp(v);
      if (!ip) throw new InvalidArgumentError(`non parsable secondary ip address (${k}:${v}) passed for network ${name}`);
      if (!cidrContains(pool, ip)) throw new PermissionDeniedError(`auxiliary address: (${k}:${v}) must belong to the master pool: ${c.Subnet}`);
      if (isReserved(pool, ip) || ip.every((x, j) => x === taken[j])) {
        throw new InvalidArgumentError(`failed to allocate secondary ip address (${k}:${v}): Address already in use`);
      }
    }
  });
  if (body.EnableIPv6 && !subnets.some((s) => s.ip.length === 16)) {
    throw new NotFoundError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
  }
  return {
    name,
    checkDuplicate: body.CheckDuplicate ?? false,
    driver,
    internal: body.Internal ?? false,
    attachable: body.Attachable ?? false,
    ingress: false,
    enableIpv6: body.EnableIPv6 ?? false,
    ipam: {
      driver: ipamDriver,
      config: configs.map((c) => ({ subnet: c.Subnet ?? '', ipRange: c.IPRange ?? '', gateway: c.Gateway ?? '', auxAddresses: { ...c.AuxiliaryAddresses } })),
      options: { ...body.IPAM?.Options },
    },
    options: { ...body.Options },
    labels: { ...body.Labels },
    scope: driver === 'overlay' ? 'swarm' : 'local',
    configOnly: body.ConfigOnly ?? false,
    configFrom: body.ConfigFrom?.Network ?? '',
  };
}

/** The pool's first address after the network address. */
function firstHost(pool: Cidr): number[] {
  const out = [...pool.network];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] < 255) {
      out[i]++;
      break;
    }
    out[i] = 0;
  }
  return out;
}

/**
 * network.EndpointSettings as a container asks for it (create's EndpointsConfig, connect's
 * EndpointConfig). dockerd checks the static addresses' syntax up front
 * (daemon/container.go verifyNetworkingConfig); whether they fit the network is checked
 * when the endpoint is made.
 */
export function endpointConfigOf(e: EndpointSettingsBody | undefined): supervisorV1.EndpointConfig {
  const ipam = e?.IPAMConfig;
  const v4 = ipam?.IPv4Address ?? '';
  const v6 = ipam?.IPv6Address ?? '';
  if (v4 && parseIp(v4)?.length !== 4) throw new InvalidArgumentError(`invalid IPv4 address: ${v4}`);
  if (v6 && parseIp(v6)?.length !== 16) throw new InvalidArgumentError(`invalid IPv6 address: ${v6}`);
  return {
    aliases: e?.Aliases ?? [],
    ipv4Address: v4,
    ipv6Address: v6,
    links: e?.Links ?? [],
    macAddress: e?.MacAddress ?? '',
    driverOpts: { ...e?.DriverOpts },
  };
}

export function parseNetworkConnect(network: string, b: NetworkConnectBody | undefined): supervisorV1.ConnectNetworkRequest {
  const container = b?.Container ?? '';
  if (!container) throw new InvalidArgumentError('invalid name or ID supplied: ""');
  return { network, container, endpointConfig: endpointConfigOf(b?.EndpointConfig) };
}

export function parseNetworkDisconnect(network: string, b: NetworkDisconnectBody | undefined): supervisorV1.DisconnectNetworkRequest {
  const container = b?.Container ?? '';
  if (!container) throw new InvalidArgumentError('invalid name or ID supplied: ""');
  return { network, container, force: b?.Force ?? false };
}

/** daemon/network/filter.go's accepted keys for GET /networks. */
const LIST_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
const PRUNE_FILTERS = new Set(['until', 'label', 'label!']);

/**
 * GET /networks filters, refused with dockerd's texts in its order (ValidateFilters, then
 * FilterNetworks: dangling before type). A bad type is a plain error there (500); the client's: 400.
 */
export function checkNetworkListFilters(f: FilterArgs): void {
  for (const k of f.keys()) if (!LIST_FILTERS.has(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
  const dangling = [...new Set(f.get('dangling'))];
  if (dangling.length > 1) throw new InvalidArgumentError('got more than one value for filter key "dangling"');
  for (const v of dangling) {
    if (!['true', '1', 'false', '0'].includes(v)) {
      throw new InvalidArgumentError(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`);
    }
  }
  for (const v of f.get('type')) if (v !== 'custom' && v !== 'builtin') throw new InvalidArgumentError(`invalid filter: 'type'='${v}'`);
}

/**
 * POST /networks/prune filters: until, label, label! (filters.Validate: 400); an until that
 * does not parse is refused before anything goes, with dockerd's text (its 500 is a 400 here).
 */
export function checkNetworkPruneFilters(f: FilterArgs, nowMs: number): void {
  for (const k of f.keys()) if (!PRUNE_FILTERS.has(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
  const until = f.get('until');
  if (until.length > 1) throw new InvalidArgumentError('more than one until filter specified');
  for (const v of until) {
    try {
      parseFilterTime(v, nowMs);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message, { cause: err });
    }
  }
}

/** Go's strconv.ParseBool spellings. */
const GO_BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false };

/**
 * GET /networks/{id}'s query (network_routes.go getNetwork): `verbose` must parse as a Go
 * bool; a `scope` other than local or swarm finds nothing (dockerd: `network X not found`).
 */
export function parseNetworkInspectQuery(id: string, q: URLSearchParams): supervisorV1.InspectNetworkRequest {
  const v = q.get('verbose') ?? '';
  if (v !== '' && !(v in GO_BOOLS)) throw new InvalidArgumentError(`invalid value for verbose: ${v}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
  const scope = q.get('scope') ?? '';
  // swarm: the overlay networks (checked against the network found, as dockerd's scope match)
  if (scope !== '' && scope !== 'local' && scope !== 'swarm') throw new NotFoundError(`network ${id} not found`);
  return { id, verbose: v !== '' && GO_BOOLS[v], scope };
}
