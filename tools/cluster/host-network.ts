// The host's side of the one-machine cluster: a private bridge, one network namespace per node hung
// off it by a veth pair, the nodes' default route via the host, and the host rules that let their
// traffic out. Every step is idempotent: a second run finds it all in place (and its containers).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { requireCommand } from '@drydock/infra';
import type { ClusterPlan, NodePlan } from './cluster-plan';

type Run = (cmd: string, args: string[]) => string;

const defaultRun: Run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The destinations of the host's IPv4 routes (`ip -4 route`), to choose ranges that overlap none. */
export function hostRoutes(run: Run = defaultRun): string[] {
  return run(requireCommand('ip', 'iproute2'), ['-4', 'route', 'show', 'table', 'all'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    // "local 10.0.0.1 dev eth0 table local ..." and "broadcast ..." lines name their type first
    .map((w) => (['local', 'broadcast', 'unicast', 'anycast', 'multicast'].includes(w[0]) ? w[1] : w[0]))
    .filter((d): d is string => !!d && /^(\d+\.){3}\d+(\/\d+)?$/.test(d));
}

/** The address of `bridge` (x.y.z.1/24) if it exists. */
export function bridgeAddress(bridge: string, run: Run = defaultRun): string | undefined {
  try {
    const out = run(requireCommand('ip', 'iproute2'), ['-4', '-o', 'addr', 'show', 'dev', bridge]);
    return out.match(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/)?.[1];
  } catch {
    return undefined;
  }
}

/** The host iptables rules of one cluster; their comment names the bridge, so clusters never remove each other's. */
export function hostRules(p: ClusterPlan): Array<{ table: string; chain: string; insert: boolean; spec: string[] }> {
  const comment = (why: string) => ['-m', 'comment', '--comment', `drydock cluster ${p.bridge}: ${why}`];
  return [
    // The nodes' (and their containers') traffic to the outside leaves with the host's address.
    { table: 'nat', chain: 'POSTROUTING', insert: false, spec: ['-s', p.subnet, '!', '-d', p.subnet, '!', '-o', p.bridge, ...comment('outbound masquerade'), '-j', 'MASQUERADE'] },
    // First in FORWARD: dockerd sets its policy to DROP, and bridged node-to-node traffic passes FORWARD
    // when br_netfilter is loaded.
    { table: 'filter', chain: 'FORWARD', insert: true, spec: ['-i', p.bridge, ...comment('from the nodes'), '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'FORWARD', insert: true, spec: ['-o', p.bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment('replies to the nodes'), '-j', 'ACCEPT'] },
  ];
}

export class HostNetwork {
  private readonly ip = requireCommand('ip', 'iproute2');
  private readonly iptables = requireCommand('iptables', 'iptables');
  private readonly nsenter = requireCommand('nsenter', 'util-linux');

  constructor(
    private readonly plan: ClusterPlan,
    private readonly log: (line: string) => void,
    private readonly run: Run = defaultRun,
  ) {}

  private ok(cmd: string, args: string[]): boolean {
    try {
      this.run(cmd, args);
      return true;
    } catch {
      return false;
    }
  }

  /** Creates what is missing: the bridge, each node's namespace, veth, address and route, the host rules. */
  up(): void {
    const p = this.plan;
    const prefix = p.subnet.split('/')[1];
    if (!this.ok(this.ip, ['link', 'show', 'dev', p.bridge])) {
      this.run(this.ip, ['link', 'add', p.bridge, 'type', 'bridge']);
      this.log(`created bridge ${p.bridge}`);
    }
    this.run(this.ip, ['addr', 'replace', `${p.hostAddress}/${prefix}`, 'dev', p.bridge]);
    this.run(this.ip, ['link', 'set', p.bridge, 'up']);
    for (const n of p.nodes) this.nodeUp(n, prefix);
    // Forwarding is host-wide; dockerd turns it on too. Never turned off again: other software may rely on it.
    if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
      this.log('turned on net.ipv4.ip_forward (routing the nodes\' traffic out)');
    }
    for (const r of hostRules(p)) {
      if (this.ok(this.iptables, ['-w', '-t', r.table, '-C', r.chain, ...r.spec])) continue;
      this.run(this.iptables, ['-w', '-t', r.table, r.insert ? '-I' : '-A', r.chain, ...(r.insert ? ['1'] : []), ...r.spec]);
    }
  }

  private nodeUp(n: NodePlan, prefix: string): void {
    const p = this.plan;
    if (!existsSync(n.netnsPath)) {
      this.run(this.ip, ['netns', 'add', n.netns]);
      this.log(`created network namespace ${n.netns}`);
    }
    const inNs = (args: string[]) => this.run(this.ip, ['-n', n.netns, ...args]);
    if (!this.ok(this.ip, ['-n', n.netns, 'link', 'show', 'dev', 'eth0'])) {
      // a stale host end (its namespace was deleted by hand) would block the name
      this.ok(this.ip, ['link', 'del', n.vethHost]);
      this.run(this.ip, ['link', 'add', n.vethHost, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns]);
    }
    this.run(this.ip, ['link', 'set', n.vethHost, 'master', p.bridge, 'up']);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['addr', 'replace', `${n.address}/${prefix}`, 'dev', 'eth0']);
    inNs(['link', 'set', 'eth0', 'up']);
    inNs(['route', 'replace', 'default', 'via', p.hostAddress, 'dev', 'eth0']);
    // /proc/sys/net is the writer's namespace's: the node routes its containers' traffic.
    this.run(this.nsenter, [`--net=${n.netnsPath}`, '--', 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  }

  /** Removes the host rules, the namespaces (their veths go with them) and the bridge. */
  down(): void {
    const p = this.plan;
    for (const r of hostRules(p)) {
      while (this.ok(this.iptables, ['-w', '-t', r.table, '-C', r.chain, ...r.spec])) this.run(this.iptables, ['-w', '-t', r.table, '-D', r.chain, ...r.spec]);
    }
    for (const n of p.nodes) {
      if (existsSync(n.netnsPath)) this.run(this.ip, ['netns', 'del', n.netns]);
      this.ok(this.ip, ['link', 'del', n.vethHost]);
    }
    this.ok(this.ip, ['link', 'del', p.bridge]);
  }
}
