/**
 * /etc/hosts and /etc/resolv.conf as dockerd 20.10 writes them (libnetwork
 * etchosts.Build + the sandbox's own record; resolvconf.FilterResolvDNS / Build).
 */

const DEFAULT_HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its first network; none for --network none. */
  ip?: string;
  /** "name:ip" (--add-host) and link entries ("ip\tnames"), in order. */
  extra: { ip: string; names: string }[];
}

/** dockerd's layout: the defaults, then --add-host and link entries, then `<ip>\t<fqdn> <hostname>`. */
export function buildHosts(h: HostsInput): string {
  const lines = [...DEFAULT_HOSTS, ...h.extra.map((e) => `${e.ip}\t${e.names}`)];
  if (h.ip) {
    const fqdn = h.domainname ? `${h.hostname}.${h.domainname}` : h.hostname;
    const parts = fqdn.split('.');
    lines.push(`${h.ip}\t${parts.length > 1 ? `${fqdn} ${parts[0]}` : fqdn}`);
  }
  return `${lines.join('\n')}\n`;
}

const LOOPBACK_NS = /^\s*nameserver\s*((127\.([0-9]{1,3}\.){2}[0-9]{1,3})|(::1))\s*$/;

export const nameservers = (rc: string): string[] => rc.split('\n').flatMap((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1] ?? []);
const lastField = (rc: string, key: string): string[] | undefined => {
  let out: string[] | undefined;
  for (const l of rc.split('\n')) {
    const m = new RegExp(`^\\s*${key}\\s+(.*)$`).exec(l);
    if (m) out = m[1].trim().split(/\s+/);
  }
  return out;
};

export interface ResolvInput {
  /** The host's resolv.conf text. */
  host: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** User-defined network: the embedded DNS at 127.0.0.11 answers. */
  embeddedDns: boolean;
}

/** resolvconf.Build's layout. */
function build(dns: string[], search: string[], options: string[]): string {
  let out = '';
  if (search.length && search.join(' ').trim() !== '.') out += `search ${search.join(' ')}\n`;
  for (const d of dns) out += `nameserver ${d}\n`;
  if (options.length && options.join(' ').trim()) out += `options ${options.join(' ')}\n`;
  return out;
}

export function buildResolvConf(r: ResolvInput): string {
  const search = r.dnsSearch.length ? r.dnsSearch : lastField(r.host, 'search') ?? [];
  const options = r.dnsOptions.length ? r.dnsOptions : lastField(r.host, 'options') ?? [];
  if (r.embeddedDns) {
    // rebuildDNS: 127.0.0.11 plus the host's IPv6 servers; ndots:0 unless the user set ndots > 0
    const v6 = nameservers(r.host).filter((n) => n.includes(':') && !LOOPBACK_NS.test(`nameserver ${n}`));
    const ndotsSet = options.some((o) => /^ndots:(\d+)$/.test(o) && Number(o.slice(6)) > 0);
    return build(['127.0.0.11', ...v6], search, ndotsSet ? options : [...options, 'ndots:0']);
  }
  if (r.dns.length || r.dnsSearch.length || r.dnsOptions.length) {
    return build(r.dns.length ? r.dns : nameservers(r.host), search, options);
  }
  // FilterResolvDNS: the host's file without loopback servers, Google's when none is left
  let text = r.host
    .split('\n')
    .filter((l) => !LOOPBACK_NS.test(l))
    .join('\n');
  if (nameservers(text).length === 0) {
    text += '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844';
  }
  return text;
}

/** Upstream servers the embedded DNS forwards to: --dns, else the host's non-loopback ones. */
export function upstreams(r: ResolvInput): string[] {
  return r.dns.length ? r.dns : nameservers(r.host).filter((n) => !LOOPBACK_NS.test(`nameserver ${n}`));
}
