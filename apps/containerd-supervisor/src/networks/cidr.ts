/** IPv4 addresses as unsigned 32-bit numbers, and CIDR prefixes over them. */

export interface Cidr {
  /** Network address (host bits cleared). */
  base: number;
  prefix: number;
}

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "a.b.c.d/n" -> Cidr; `strict` refuses host bits (dockerd's subnet check is not strict: it masks). */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, p, ...rest] = s.trim().split('/');
  if (rest.length || p === undefined || !/^\d{1,2}$/.test(p)) return undefined;
  const prefix = Number(p);
  const addr = parseIp(ip);
  if (addr === undefined || prefix > 32) return undefined;
  return { base: (addr & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/**
 * Candidate subnets in dockerd's order (ipamutils: 172.17-31 as /16s, then
 * 192.168/16 as /20s), from "base/len[:size]" specs: a pool split into `size` subnets.
 */
export function expandPools(specs: string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const spec of specs) {
    const [cidrText, sizeText] = spec.split(':');
    const pool = parseCidr(cidrText);
    if (!pool) throw new Error(`invalid network pool ${spec}`);
    const sub = sizeText === undefined ? pool.prefix : Number(sizeText);
    if (!Number.isInteger(sub) || sub < pool.prefix || sub > 30) throw new Error(`invalid network pool size in ${spec}`);
    const n = 2 ** (sub - pool.prefix);
    for (let i = 0; i < n; i++) out.push({ base: (pool.base + i * 2 ** (32 - sub)) >>> 0, prefix: sub });
  }
  return out;
}

export const DOCKER_POOLS = ['172.17.0.0/16', '172.18.0.0/16', '172.19.0.0/16', '172.20.0.0/14:16', '172.24.0.0/14:16', '172.28.0.0/14:16', '192.168.0.0/16:20'];

/** dockerd's MAC for an IPv4 address: 02:42 followed by the address bytes. */
export function macForIp(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
