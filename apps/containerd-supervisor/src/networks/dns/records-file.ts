import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from '@drydock/errors';

/** One name the embedded DNS answers, with one IPv4 address. */
export interface DnsRecord {
  name: string;
  ipv4: string;
}

/**
 * A container's endpoint on a user-defined network, as the containers that
 * share that network should resolve it.
 */
export interface DnsEndpoint {
  /** Network name (dockerd resolves `<name>.<network>` too). */
  network: string;
  /** Container name, with or without Docker's leading '/'. */
  containerName: string;
  /** 12-character short id (dockerd adds it as an alias). */
  shortId?: string;
  /** The container's hostname when it differs from its short id (dockerd adds it as an alias too). */
  hostname?: string;
  /** `--network-alias` values and compose's service name; several containers may share one. */
  aliases?: readonly string[];
  /** The endpoint's address on that network. */
  ipv4: string;
}

// What drydock-dns accepts as a name (native/drydock-dns.c normalize_name):
// printable ASCII without blanks or '#', labels of 1..63 bytes, at most 253.
function isDnsName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  if (!/^[\x21-\x7e]+$/.test(n) || n.includes('#')) return false;
  return n.split('.').every((l) => l.length > 0 && l.length <= 63);
}

/**
 * The records for a container's DNS: every endpoint on the networks it is
 * connected to (its own included), in dockerd's names. For each endpoint
 * `<container>.<network>` comes first, because drydock-dns answers PTR with
 * the first name listed for an address, and that is dockerd's PTR name. Names
 * that DNS cannot carry (an alias with a blank, say) are left out, as dockerd
 * accepts such aliases but never resolves them. Duplicates are dropped.
 */
export function dnsRecordsFor(endpoints: readonly DnsEndpoint[]): DnsRecord[] {
  const out: DnsRecord[] = [];
  const seen = new Set<string>();
  const add = (name: string, ipv4: string) => {
    const key = `${name.toLowerCase()} ${ipv4}`;
    if (!isDnsName(name) || seen.has(key)) return;
    seen.add(key);
    out.push({ name, ipv4 });
  };
  for (const ep of endpoints) {
    if (!isIPv4(ep.ipv4)) continue;
    const name = ep.containerName.replace(/^\//, '');
    const names = [name, ...[ep.shortId, ep.hostname].filter((n): n is string => !!n), ...(ep.aliases ?? [])];
    add(`${name}.${ep.network}`, ep.ipv4);
    for (const n of names) add(n, ep.ipv4);
    for (const n of names.slice(1)) add(`${n}.${ep.network}`, ep.ipv4);
  }
  return out;
}

/** The records file's text: one `NAME IPV4` a line, in order (the first name of an address is its PTR name). */
export function formatDnsRecords(records: readonly DnsRecord[]): string {
  let text = '';
  for (const r of records) {
    if (!isDnsName(r.name)) throw new InvalidArgumentError(`invalid DNS name ${JSON.stringify(r.name)}`);
    if (!isIPv4(r.ipv4)) throw new InvalidArgumentError(`invalid IPv4 address ${JSON.stringify(r.ipv4)}`);
    text += `${r.name} ${r.ipv4}\n`;
  }
  return text;
}

/**
 * Replaces the records file atomically: written to a temporary file beside it,
 * fsynced, then renamed over it, so drydock-dns (which stat()s the file on each
 * query) never reads a half-written table, and a crash leaves the old or the
 * new one.
 */
export async function writeDnsRecordsFile(path: string, records: readonly DnsRecord[]): Promise<void> {
  const text = formatDnsRecords(records);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
