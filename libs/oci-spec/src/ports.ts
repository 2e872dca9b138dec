import { isIP } from 'node:net';
import { InvalidArgumentError } from '@drydock/errors';
import { goParseUint } from './go-compat';

/**
 * Port specs as Docker parses them for EXPOSE and `-p` (go-connections/nat ParsePortSpec):
 * `[ip:][hostPort:]containerPort[/proto]`, ports or ranges `a-b`, proto tcp|udp|sctp.
 */

/** One published port: the container port key (`80/tcp`) and its host binding ("" = any). */
export interface PortMapping {
  port: string;
  hostIp: string;
  hostPort: string;
}

function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('Empty string specified for ports.');
  if (!ports.includes('-')) {
    const p = goParseUint(ports, 16);
    if (p === undefined) throw new Error('invalid port');
    return [p, p];
  }
  const parts = ports.split('-');
  const start = goParseUint(parts[0], 16);
  const end = goParseUint(parts[1], 16);
  if (start === undefined || end === undefined) throw new Error('invalid port');
  if (end < start) throw new Error(`Invalid range specified for the Port: ${ports}`);
  return [start, end];
}

function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw.length === 0 || parts[0].length === 0) return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1].length === 0) return ['tcp', parts[0]];
  return [parts[1], parts[0]];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const containerPort = parts[n - 1];
  switch (n) {
    case 1:
      return ['', '', containerPort];
    case 2:
      return ['', parts[0], containerPort];
    case 3:
      return [parts[0], parts[1], containerPort];
    default:
      return [parts.slice(0, n - 2).join(':'), parts[n - 2], containerPort];
  }
}

/**
 * Parses one port spec into one mapping per container port (ranges expand). Errors are
 * InvalidArgumentError with go-connections' texts (`Invalid containerPort: x`, `Invalid proto: x`,
 * `No port specified: x<empty>`, `Invalid hostPort: x`, `Invalid ip address: x`).
 */
export function parsePortSpec(raw: string): PortMapping[] {
  const [rawIp, hostPortIn, containerPortIn] = splitParts(raw);
  const [proto, containerPort] = splitProtoPort(containerPortIn);
  // net.SplitHostPort(rawIP + ":") strips IPv6 brackets.
  let ip = rawIp;
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']')) throw new InvalidArgumentError(`Invalid ip address ${rawIp}: address ${rawIp}: missing ']' in address`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && isIP(ip) === 0) throw new InvalidArgumentError(`Invalid ip address: ${ip}`);
  if (containerPort === '') throw new InvalidArgumentError(`No port specified: ${raw}<empty>`);

  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new InvalidArgumentError(`Invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPortIn.length > 0) {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPortIn);
    } catch {
      throw new InvalidArgumentError(`Invalid hostPort: ${hostPortIn}`);
    }
  }
  if (hostPortIn !== '' && end - start !== hostEnd - hostStart && end !== start) {
    throw new InvalidArgumentError(
      `Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPortIn}`,
    );
  }
  const lproto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(lproto)) throw new InvalidArgumentError(`Invalid proto: ${proto}`);

  const out: PortMapping[] = [];
  for (let i = 0; i <= end - start; i++) {
    let hostPort = hostPortIn;
    if (hostPortIn.length > 0) hostPort = String(hostStart + i);
    if (start === end && hostStart !== hostEnd) hostPort = `${hostPort}-${hostEnd}`;
    out.push({ port: `${start + i}/${lproto}`, hostIp: ip, hostPort });
  }
  return out;
}

/** ParsePortSpecs: the exposed port keys (`80/tcp`) of several specs, deduplicated, in order. */
export function parseExposedPorts(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of specs) for (const m of parsePortSpec(s)) if (!out.includes(m.port)) out.push(m.port);
  return out;
}
