/**
 * Host objects of the bench's networking: the private dockerd's default bridge, address pool and
 * iptables chains (made before dockerd starts, removed after it stops: dockerd never deletes its
 * rules), and the process and address look-ups the network rows need.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A process counted for an engine. */
export interface HostProcess {
  role: string;
  pid: number;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
};

/** argv of a process, [] when it exited meanwhile. */
export function argvOf(pid: number | string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function ppidOf(pid: string): number {
  try {
    // comm may hold spaces and parentheses: the fields start after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Processes whose argv[0] is `binary`. */
export function processesRunning(binary: string, role: string): HostProcess[] {
  const out: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && argvOf(entry)[0] === binary) out.push({ role, pid: Number(entry) });
  }
  return out;
}

/** The docker-proxy children of a dockerd: one per published port and address family. */
export function dockerProxiesOf(dockerdPid: number): HostProcess[] {
  const out: HostProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || ppidOf(entry) !== dockerdPid) continue;
    if (argvOf(entry)[0]?.endsWith('docker-proxy')) out.push({ role: 'docker-proxy', pid: Number(entry) });
  }
  return out;
}

/** Every descendant of `roots` (children of children included), for counting what an engine keeps running. */
export function descendantsOf(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pp = ppidOf(entry);
    children.set(pp, [...(children.get(pp) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [...roots];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Whether a process lives in the bench's own pid namespace (container processes do not). */
export function inHostPidNamespace(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m)![1].trim().split(/\s+/).length === 1;
  } catch {
    return false;
  }
}

/** The host's own non-loopback IPv4 address: the one on the default route's device, else the first global one. */
export function hostAddress(): string {
  type Addr = { ifname: string; addr_info: { family: string; local: string; scope: string }[] };
  const addrs = JSON.parse(sh('ip', ['-4', '-j', 'addr']) || '[]') as Addr[];
  let dev = '';
  try {
    dev = (JSON.parse(sh('ip', ['-4', '-j', 'route', 'show', 'default']) || '[]') as { dev?: string }[])[0]?.dev ?? '';
  } catch {
    // no default route
  }
  const global = (a: Addr) => a.addr_info.filter((i) => i.family === 'inet' && i.scope === 'global').map((i) => i.local);
  const found = (dev && global(addrs.find((a) => a.ifname === dev) ?? { ifname: '', addr_info: [] })[0]) || addrs.filter((a) => a.ifname !== 'lo').flatMap(global)[0];
  if (!found) throw new Error('the host has no non-loopback IPv4 address (ip -4 -j addr)');
  return found;
}

/** Parses `iptables -S <chain>`'s policy line. */
function policyOf(chain: string): string {
  return /^-P \S+ (\S+)/m.exec(sh('iptables', ['-w', '-S', chain]))?.[1] ?? 'ACCEPT';
}

/**
 * The private dockerd's bridge networking: default bridge `ddbdock0` on 10.171.0.1/16 (made here: dockerd's
 * --bridge must name an existing bridge), user-defined networks from 10.173.0.0/16 in /24s, apart from every
 * Drydock test and bench pool (10.150-10.172) and from the host's docker0 defaults. dockerd 20.10 adds the
 * DOCKER, DOCKER-USER and DOCKER-ISOLATION-STAGE-1/2 chains and jumps to them from FORWARD, PREROUTING, OUTPUT
 * and POSTROUTING, sets FORWARD's policy to DROP when it had to switch ip_forward on, and removes none of it at
 * exit: cleanup() does, and restores the policy.
 */
export class DockerNetworkHost {
  readonly bridge = 'ddbdock0';
  readonly bridgeCidr = '10.171.0.1/16';
  readonly subnet = '10.171.0.0/16';
  readonly pool = '10.173.0.0/16';
  private forwardPolicy?: string;
  private prepared = false;

  dockerdFlags(): string[] {
    return [
      '--bridge', this.bridge,
      '--iptables=true', '--ip-masq=true', '--ip6tables=false', '--userland-proxy=true',
      '--default-address-pool', `base=${this.pool},size=24`,
    ];
  }

  /** Fails when another dockerd's chains are present: they would be mixed with ours and removed at cleanup. */
  prepare(): void {
    const existing = this.dockerChains();
    if (existing.length) {
      throw new Error(`iptables chains ${existing.join(', ')} exist already (another dockerd?): the bench's dockerd would share and then remove them; remove them first`);
    }
    this.forwardPolicy = policyOf('FORWARD');
    this.prepared = true;
    quiet('ip', ['link', 'del', this.bridge]); // left by a killed run: the name is the bench's own
    sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', this.bridgeCidr, 'dev', this.bridge]);
    sh('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Idempotent; every step is tried. */
  cleanup(): void {
    if (!this.prepared) return;
    this.prepared = false;
    // the default bridge, and user-defined networks' br-<id> that dockerd did not get to remove
    // (`ip -4 -j addr` prints links without an IPv4 address as {})
    type Link = { ifname?: string; addr_info?: { local?: string }[] };
    let ours = [this.bridge];
    try {
      const links = JSON.parse(sh('ip', ['-4', '-j', 'addr', 'show', 'type', 'bridge']) || '[]') as Link[];
      ours = [this.bridge, ...links.filter((b) => b.ifname?.startsWith('br-') && b.addr_info?.some((a) => a.local?.startsWith('10.173.'))).map((b) => b.ifname!)];
    } catch {
      // only the default bridge then
    }
    for (const table of ['filter', 'nat']) {
      const lines = sh('iptables-save', ['-t', table]).split('\n');
      const chains = lines.filter((l) => /^:DOCKER/.test(l)).map((l) => l.slice(1).split(' ')[0]);
      // jumps into DOCKER* from the built-in chains, and dockerd's MASQUERADE rules for its subnets
      for (const l of lines) {
        if (!l.startsWith('-A ')) continue;
        const chain = l.split(' ')[1];
        if (chain.startsWith('DOCKER')) continue;
        if (/ -j DOCKER\S*/.test(l) || this.mentionsOurs(l, ours)) quiet('sh', ['-c', `iptables -w -t ${table} ${l.replace(/^-A /, '-D ')}`]);
      }
      for (const c of chains) quiet('iptables', ['-w', '-t', table, '-F', c]);
      for (const c of chains) quiet('iptables', ['-w', '-t', table, '-X', c]);
    }
    if (this.forwardPolicy) quiet('iptables', ['-w', '-P', 'FORWARD', this.forwardPolicy]);
    for (const b of ours) quiet('ip', ['link', 'del', b]);
  }

  private mentionsOurs(rule: string, bridges: string[]): boolean {
    return bridges.some((b) => rule.includes(`-o ${b} `) || rule.includes(`-i ${b} `)) || rule.includes('-s 10.171.0.0/16') || / -s 10\.173\.\d+\.0\/24/.test(rule);
  }

  private dockerChains(): string[] {
    return ['filter', 'nat'].flatMap((t) => sh('iptables-save', ['-t', t]).split('\n').filter((l) => /^:DOCKER/.test(l)).map((l) => `${t}/${l.slice(1).split(' ')[0]}`));
  }
}
