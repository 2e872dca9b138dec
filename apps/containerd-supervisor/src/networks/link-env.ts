/** One exposed port of the linked container ("80/tcp" or "80": tcp). */
interface Port {
  port: number;
  proto: string;
}

function parsePort(p: string): Port {
  const [n, proto = 'tcp'] = p.split('/');
  return { port: Number(n), proto: proto || 'tcp' };
}

/** nat.Sort with links.go's order: by number, tcp before another protocol of the same number. */
function sortPorts(ports: Port[]): Port[] {
  return [...ports].sort((a, b) => a.port - b.port || (a.proto.toLowerCase() === 'tcp' ? -1 : b.proto.toLowerCase() === 'tcp' ? 1 : 0));
}

/** links.go nextContiguous: the index of the last port of the run starting at index (numbers only). */
function nextContiguous(ports: Port[], value: number, index: number): number {
  if (index + 1 === ports.length) return index;
  for (let i = index + 1; i < ports.length; i++) {
    if (ports[i].port > value + 1) return i - 1;
    value++;
  }
  return ports.length - 1;
}

/**
 * The environment variables of a legacy link (moby daemon/links/links.go ToEnv), for the
 * link `/<parent>/<alias>` to a container at `childIp` with its Env and exposed ports.
 * The alias is upper-cased with `-` made `_` (and nothing else, as dockerd); HOME and PATH
 * of the linked container are left out.
 */
export function linkEnv(name: string, childIp: string, childEnv: readonly string[], exposedPorts: readonly string[]): string[] {
  const env: string[] = [];
  const alias = (name.split('/').pop() ?? '').toUpperCase().replace(/-/g, '_');
  const ports = sortPorts([...new Set(exposedPorts)].map(parsePort));
  if (ports.length) env.push(`${alias}_PORT=${ports[0].proto}://${childIp}:${ports[0].port}`);
  for (let i = 0; i < ports.length; ) {
    const p = ports[i];
    const j = nextContiguous(ports, p.port, i);
    if (j > i + 1) {
      const P = p.proto.toUpperCase();
      env.push(`${alias}_PORT_${p.port}_${P}_START=${p.proto}://${childIp}:${p.port}`);
      env.push(`${alias}_PORT_${p.port}_${P}_ADDR=${childIp}`);
      env.push(`${alias}_PORT_${p.port}_${P}_PROTO=${p.proto}`);
      env.push(`${alias}_PORT_${p.port}_${P}_PORT_START=${p.port}`);
      const q = ports[j];
      // dockerd names the end variables after the first port with the last one's protocol
      env.push(`${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_END=${q.proto}://${childIp}:${q.port}`);
      env.push(`${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_PORT_END=${q.port}`);
      i = j + 1;
    } else {
      i++;
    }
  }
  for (const p of ports) {
    const P = p.proto.toUpperCase();
    env.push(`${alias}_PORT_${p.port}_${P}=${p.proto}://${childIp}:${p.port}`);
    env.push(`${alias}_PORT_${p.port}_${P}_ADDR=${childIp}`);
    env.push(`${alias}_PORT_${p.port}_${P}_PORT=${p.port}`);
    env.push(`${alias}_PORT_${p.port}_${P}_PROTO=${p.proto}`);
  }
  env.push(`${alias}_NAME=${name}`);
  for (const v of childEnv) {
    const i = v.indexOf('=');
    if (i < 0) continue;
    const k = v.slice(0, i);
    // added by docker build, not the linked service's settings
    if (k === 'HOME' || k === 'PATH') continue;
    env.push(`${alias}_ENV_${k}=${v.slice(i + 1)}`);
  }
  return env;
}
