import { readFile } from 'node:fs/promises';
import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import { parseIp } from './cidr';

/** One binding to program: a container port and the host side asked for. */
export interface WantedPort {
  containerPort: string;
  port: number;
  proto: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  /** Inclusive host port range; [0, 0] = ephemeral. */
  range: [number, number];
}

function parseContainerPort(key: string): { port: number; proto: WantedPort['proto'] } {
  const [p, proto = 'tcp'] = key.split('/');
  const port = Number(p);
  if (!/^\d+$/.test(p) || port < 1 || port > 65535) throw new InvalidArgumentError(`invalid port specification: "${key}"`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidArgumentError(`invalid proto: ${proto}`);
  return { port, proto };
}

function parseHostPort(s: string): [number, number] {
  if (!s) return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 0 || hi > 65535 || hi < lo) throw new InvalidArgumentError(`invalid port specification: "${s}"`);
  return lo === 0 ? [0, 0] : [lo, hi];
}

/** PortBindings, plus every exposed port with -P, as bindings to program (dockerd's order: by key). */
export function wantedPorts(hc: supervisorV1.HostConfig, exposed: string[]): WantedPort[] {
  const bindings: Record<string, supervisorV1.PortBinding[]> = {};
  for (const [k, v] of Object.entries(hc.portBindings ?? {})) bindings[k] = v.bindings ?? [];
  if (hc.publishAllPorts) for (const k of exposed) bindings[k] ??= [{ hostIp: '', hostPort: '' }];
  const out: WantedPort[] = [];
  for (const key of Object.keys(bindings).sort()) {
    const { port, proto } = parseContainerPort(key);
    const list = bindings[key].length ? bindings[key] : [{ hostIp: '', hostPort: '' }];
    for (const b of list) {
      const hostIp = b.hostIp === '0.0.0.0' ? '' : b.hostIp ?? '';
      if (hostIp && parseIp(hostIp) === undefined) throw new InvalidArgumentError(`invalid IP address: ${hostIp}`);
      out.push({ containerPort: `${port}/${proto}`, port, proto, hostIp, range: parseHostPort(b.hostPort ?? '') });
    }
  }
  return out;
}

/** The host's ephemeral range, as dockerd's port allocator reads it. */
export async function ephemeralRange(): Promise<[number, number]> {
  try {
    const [lo, hi] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // fall through to dockerd's default
  }
  return [49153, 65535];
}
