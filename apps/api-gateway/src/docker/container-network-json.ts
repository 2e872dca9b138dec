import type { supervisorV1 } from '@drydock/proto';

const nonEmpty = <T>(l: T[] | undefined): T[] | null => (l && l.length > 0 ? l : null);

/** One NetworkSettings.Networks entry (network.EndpointSettings, API 1.41's fields and order). */
export function endpointSettingsJson(e: supervisorV1.EndpointSettings = {}): Record<string, unknown> {
  const cfg = e.config ?? {};
  // EndpointIPAMConfig's fields are omitempty; without a static address dockerd keeps the pointer nil
  const ipam: Record<string, string> = {};
  if (cfg.ipv4Address) ipam.IPv4Address = cfg.ipv4Address;
  if (cfg.ipv6Address) ipam.IPv6Address = cfg.ipv6Address;
  const aliases = e.aliases && e.aliases.length > 0 ? e.aliases : cfg.aliases;
  return {
    IPAMConfig: Object.keys(ipam).length > 0 ? ipam : null,
    Links: nonEmpty(cfg.links),
    Aliases: nonEmpty(aliases),
    NetworkID: e.networkId ?? '',
    EndpointID: e.endpointId ?? '',
    Gateway: e.gateway ?? '',
    IPAddress: e.ipAddress ?? '',
    IPPrefixLen: e.ipPrefixLen ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: e.macAddress ?? '',
    DriverOpts: cfg.driverOpts && Object.keys(cfg.driverOpts).length > 0 ? cfg.driverOpts : null,
  };
}

/** The key of NetworkSettings.Networks for a mode when the supervisor reports no network (none, host, container:). */
function fallbackNetworkName(mode: string): string | undefined {
  if (mode.startsWith('container:')) return undefined;
  return mode === '' || mode === 'default' ? 'bridge' : mode;
}

/**
 * NetworkSettings.Networks: the attached networks, or the mode's built-in one. `summary`:
 * ps's copy, which dockerd's container view makes without Links, Aliases and DriverOpts
 * (container/view.go), so they are null there even when inspect shows them.
 */
export function networksJson(ns: supervisorV1.NetworkSettings | undefined, mode: string, summary = false): Record<string, unknown> {
  const nets = Object.entries(ns?.networks ?? {});
  const one = (e?: supervisorV1.EndpointSettings) => {
    const j = endpointSettingsJson(e);
    return summary ? { ...j, Links: null, Aliases: null, DriverOpts: null } : j;
  };
  if (nets.length > 0) return Object.fromEntries(nets.map(([name, e]) => [name, one(e)]));
  const name = fallbackNetworkName(mode);
  return name ? { [name]: one() } : {};
}

/** NetworkSettings.Ports: "80/tcp" -> [{HostIp, HostPort}] or null for a port exposed but not published. */
export function portsJson(ns: supervisorV1.NetworkSettings | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [port, list] of Object.entries(ns?.ports ?? {})) {
    const m = list.mappings ?? [];
    out[port] = m.length > 0 ? m.map((b) => ({ HostIp: b.hostIp ?? '', HostPort: String(b.hostPort ?? 0) })) : null;
  }
  return out;
}

/** Inspect's NetworkSettings (types.NetworkSettings) in dockerd 20.10's field order. */
export function networkSettingsJson(ns: supervisorV1.NetworkSettings | undefined, mode: string): Record<string, unknown> {
  return {
    Bridge: ns?.bridge ?? '',
    SandboxID: ns?.sandboxId ?? '',
    HairpinMode: ns?.hairpinMode ?? false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portsJson(ns),
    SandboxKey: ns?.sandboxKey ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: ns?.endpointId ?? '',
    Gateway: ns?.gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: ns?.ipAddress ?? '',
    IPPrefixLen: ns?.ipPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: ns?.macAddress ?? '',
    Networks: networksJson(ns, mode),
  };
}

/**
 * `ps`'s Ports (types.Port: IP and PublicPort omitempty): one row per host binding, one
 * row without host side for a port only exposed. Keys in string order, as dockerd lists
 * them; the CLI groups and sorts for the PORTS column itself.
 */
export function summaryPortsJson(ns: supervisorV1.NetworkSettings | undefined): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const port of Object.keys(ns?.ports ?? {}).sort()) {
    const [num, proto = 'tcp'] = port.split('/');
    const privatePort = Number(num);
    const m = ns!.ports![port].mappings ?? [];
    if (m.length === 0) rows.push({ PrivatePort: privatePort, Type: proto });
    for (const b of m) {
      const row: Record<string, unknown> = {};
      if (b.hostIp) row.IP = b.hostIp;
      row.PrivatePort = privatePort;
      if (b.hostPort) row.PublicPort = b.hostPort;
      row.Type = proto;
      rows.push(row);
    }
  }
  return rows;
}

/** HostConfig.PortBindings as given at create ("80/tcp" -> [{HostIp, HostPort}]). */
export function portBindingsJson(pb: Record<string, supervisorV1.PortBindingList> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(pb ?? {}).map(([port, l]) => [port, (l.bindings ?? []).map((b) => ({ HostIp: b.hostIp ?? '', HostPort: b.hostPort ?? '' }))]));
}
