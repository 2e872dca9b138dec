import type { supervisorV1 } from '@drydock/proto';
import { rfc3339Nano } from './time';

/** One IPAM pool as dockerd prints it: empty fields are left out (omitempty). */
function ipamConfigJson(c: supervisorV1.IpamConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { Subnet: c.subnet ?? '' };
  if (c.ipRange) out.IPRange = c.ipRange;
  if (c.gateway) out.Gateway = c.gateway;
  if (c.auxAddresses && Object.keys(c.auxAddresses).length > 0) out.AuxiliaryAddresses = c.auxAddresses;
  if (!c.subnet) delete out.Subnet;
  return out;
}

/** Network inspect's Containers entry (daemon/network.go buildEndpointResource). */
function endpointJson(e: supervisorV1.NetworkEndpoint): Record<string, unknown> {
  const out: Record<string, unknown> = { Name: e.name ?? '', EndpointID: e.endpointId ?? '', MacAddress: e.macAddress ?? '', IPv4Address: e.ipv4Address ?? '', IPv6Address: e.ipv6Address ?? '' };
  // an overlay's endpoints are on every node: which one runs the container (classic Swarm's Node)
  if (e.node) out.Node = e.node;
  return out;
}

/**
 * Network -> dockerd 20.10's types.NetworkResource, in its field order. GET /networks
 * leaves Containers empty from API 1.28 on (`withContainers` false); inspect fills it.
 * IPAM.Options is null unless set, as dockerd prints it for networks made without options.
 */
export function networkJson(n: supervisorV1.Network, withContainers = true): Record<string, unknown> {
  const ipam = n.ipam ?? {};
  const options = ipam.options && Object.keys(ipam.options).length > 0 ? ipam.options : null;
  const containers = withContainers ? Object.fromEntries(Object.entries(n.containers ?? {}).map(([id, e]) => [id, endpointJson(e)])) : {};
  return {
    Name: n.name ?? '',
    Id: n.id ?? '',
    Created: rfc3339Nano(n.created),
    Scope: n.scope || 'local',
    Driver: n.driver ?? '',
    EnableIPv6: n.enableIpv6 ?? false,
    IPAM: { Driver: ipam.driver || 'default', Options: options, Config: (ipam.config ?? []).map(ipamConfigJson) },
    Internal: n.internal ?? false,
    Attachable: n.attachable ?? false,
    Ingress: n.ingress ?? false,
    ConfigFrom: { Network: '' },
    ConfigOnly: n.configOnly ?? false,
    Containers: containers,
    Options: n.options ?? {},
    Labels: n.labels ?? {},
    // dockerd's Peers (omitempty): the nodes an overlay network spans
    ...(n.peers?.length ? { Peers: n.peers.map((p) => ({ Name: p.name ?? '', IP: p.ip ?? '' })) } : {}),
  };
}
