import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Docker Hub's names in image references and in `docker login`. */
export const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io']);
/** Where dockerd pulls and pushes Docker Hub content. */
export const DOCKER_HUB_REGISTRY = 'https://registry-1.docker.io';
/** Docker Hub's search index (the v1 API). */
export const DOCKER_HUB_INDEX = 'https://index.docker.io';

/** One base URL to try for a registry, in dockerd's order of preference. */
export interface Endpoint {
  /** scheme://host[:port], no trailing slash. */
  origin: string;
  mirror: boolean;
  /** Docker Hub itself. */
  official: boolean;
  /** false for insecure registries: certificates are not verified (InsecureSkipVerify). */
  tlsVerify: boolean;
}

export type LookupAll = (host: string) => Promise<string[]>;

const defaultLookup: LookupAll = async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address);

/** Splits "host:port", "[v6]:port", "host" into the host name (no brackets). */
export function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i >= 0 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort;
}

/**
 * dockerd's endpoint lookup (registry/service_v2.go): Docker Hub goes to the mirrors,
 * then registry-1.docker.io; any other registry to https://host, followed by
 * http://host when the registry is insecure (listed by name, or resolving into an
 * insecure CIDR: 127.0.0.0/8 by default). Mirrors are skipped for pushes and logins,
 * so credentials never go to a mirror.
 */
export class EndpointResolver {
  private readonly cidrs = new BlockList();
  private readonly insecureNames = new Set<string>();

  constructor(
    private readonly cfg: { mirrors: string[]; insecureRegistries: string[] },
    private readonly lookup: LookupAll = defaultLookup,
  ) {
    for (const r of cfg.insecureRegistries) {
      const slash = r.indexOf('/');
      if (slash < 0) {
        this.insecureNames.add(r.toLowerCase());
        continue;
      }
      const ip = r.slice(0, slash);
      this.cidrs.addSubnet(ip, Number(r.slice(slash + 1)), isIP(ip) === 6 ? 'ipv6' : 'ipv4');
    }
  }

  isOfficial(host: string): boolean {
    return DOCKER_HUB_NAMES.has(host.toLowerCase());
  }

  /** dockerd's isSecureIndex: named entries first, then the CIDRs of the host's addresses. */
  async isSecure(host: string): Promise<boolean> {
    const h = host.toLowerCase();
    if (this.isOfficial(h)) return true;
    if (this.insecureNames.has(h)) return false;
    const name = hostnameOf(h);
    let addrs: string[];
    if (isIP(name)) addrs = [name];
    else {
      try {
        addrs = await this.lookup(name);
      } catch {
        // dockerd: a name that does not resolve is treated as secure.
        return true;
      }
    }
    return !addrs.some((a) => this.cidrs.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4'));
  }

  async endpoints(host: string, purpose: 'pull' | 'push'): Promise<Endpoint[]> {
    if (this.isOfficial(host)) {
      const out: Endpoint[] = [];
      if (purpose === 'pull') {
        for (const m of this.cfg.mirrors) {
          const u = new URL(m);
          out.push({ origin: u.origin, mirror: true, official: false, tlsVerify: u.protocol === 'http:' || (await this.isSecure(u.host)) });
        }
      }
      out.push({ origin: DOCKER_HUB_REGISTRY, mirror: false, official: true, tlsVerify: true });
      return out;
    }
    const secure = await this.isSecure(host);
    const out: Endpoint[] = [{ origin: `https://${host}`, mirror: false, official: false, tlsVerify: secure }];
    if (!secure) out.push({ origin: `http://${host}`, mirror: false, official: false, tlsVerify: false });
    return out;
  }
}
