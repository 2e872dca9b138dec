import { isIPv4, isIPv6 } from 'node:net';

/** An address as bytes (4 for IPv4, 16 for IPv6): enough for subnet arithmetic without a library. */
export type IpBytes = number[];

/** Go's net.ParseIP: dotted IPv4 without leading zeros, or IPv6 (an IPv4 tail allowed); undefined when invalid. */
export function parseIp(s: string): IpBytes | undefined {
  if (isIPv4(s)) return s.split('.').map(Number);
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail.push(...text.slice(lastColon + 1).split('.').map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const words = (p: string | undefined) => (p ? p.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const r = words(rest);
  const all = rest === undefined ? h : [...h, ...new Array(8 - h.length - r.length).fill(0), ...r];
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** A parsed CIDR: the address as written, the masked network and the prefix length. */
export interface Cidr {
  ip: IpBytes;
  network: IpBytes;
  prefix: number;
}

/** Go's net.ParseCIDR; undefined where Go says `invalid CIDR address: <s>`. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (!ip || !/^\d+$/.test(len)) return undefined;
  const prefix = Number(len);
  if (prefix > ip.length * 8) return undefined;
  return { ip, network: maskBytes(ip, prefix), prefix };
}

function maskBytes(ip: IpBytes, prefix: number): IpBytes {
  return ip.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

/** Whether `ip` lies in `net` (same family). */
export function cidrContains(net: Cidr, ip: IpBytes): boolean {
  return ip.length === net.network.length && maskBytes(ip, net.prefix).every((b, i) => b === net.network[i]);
}

/** Whether two networks share an address (one contains the other's network address). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.network.length === b.network.length && (cidrContains(a, b.network) || cidrContains(b, a.network));
}

/** The network address or, for IPv4, the broadcast address: libnetwork reserves both. */
export function isReserved(net: Cidr, ip: IpBytes): boolean {
  if (ip.every((b, i) => b === net.network[i])) return true;
  if (ip.length !== 4) return false;
  return ip.every((b, i) => {
    const bits = Math.max(0, Math.min(8, net.prefix - i * 8));
    return (b | (0xff >> bits)) === b;
  });
}

export function formatCidr(net: Cidr): string {
  return `${formatIp(net.network)}/${net.prefix}`;
}

export function formatIp(ip: IpBytes): string {
  if (ip.length === 4) return ip.join('.');
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
