import type { Logger } from '@drydock/logging';
import { parseCidr, type Cidr } from './cidr';
import { run, runOk } from './exec';

/** What a network's kernel rules depend on. */
export interface NetworkRules {
  id: string;
  bridge: string;
  subnet: string;
  internal: boolean;
  icc: boolean;
}

/** The comment every rule of a network carries: how a restarted supervisor finds its rules. */
export const ruleComment = (netId: string): string => `drydock-net:${netId}`;

/**
 * The host's side of networking, with `ip` and iptables (nf_tables here). Drydock's
 * rules live in chains of its own (prefix configurable, so tests never touch the
 * node's), reached by one jump each from FORWARD and POSTROUTING, as dockerd's
 * DOCKER/DOCKER-ISOLATION chains are:
 * - <P>-FORWARD: established traffic, then isolation between networks, then per network
 *   accept (or drop for --internal) and inter-container (icc) rules;
 * - <P>-ISOLATION-1/2: traffic leaving one Drydock bridge for another is dropped
 *   (published ports are DNAT'd and accepted before it);
 * - nat <P>-POSTROUTING: per network, masquerade of its subnet leaving its bridge.
 * Published ports are the portmap plugin's (CNI-HOSTPORT-* chains, comments naming
 * the container id).
 */
export class HostNet {
  private readonly log: Logger;
  readonly fwd: string;
  readonly iso1: string;
  readonly iso2: string;
  readonly post: string;

  constructor(prefix: string, logger: Logger) {
    this.fwd = `${prefix}-FORWARD`;
    this.iso1 = `${prefix}-ISOLATION-1`;
    this.iso2 = `${prefix}-ISOLATION-2`;
    this.post = `${prefix}-POSTROUTING`;
    this.log = logger.child({ component: 'host-net' });
  }

  /** Creates the chains and jumps that are missing (idempotent: boot and after an iptables flush). */
  async ensureBase(): Promise<void> {
    const filter = await save('filter');
    const f: string[] = [];
    for (const c of [this.fwd, this.iso1, this.iso2]) if (!filter.includes(`:${c} `)) f.push(`:${c} - [0:0]`);
    if (!filter.includes(`:${this.fwd} `)) {
      f.push(`-A ${this.fwd} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, `-A ${this.fwd} -j ${this.iso1}`);
    }
    if (!filter.includes(`:${this.iso2} `)) f.push(`-A ${this.iso2} -j RETURN`);
    if (!filter.includes(`:${this.iso1} `)) f.push(`-A ${this.iso1} -j RETURN`);
    if (!hasRule(filter, `-A FORWARD -j ${this.fwd}`)) f.push(`-I FORWARD 1 -j ${this.fwd}`);
    const nat = await save('nat');
    const n: string[] = [];
    if (!nat.includes(`:${this.post} `)) n.push(`:${this.post} - [0:0]`);
    if (!hasRule(nat, `-A POSTROUTING -j ${this.post}`)) n.push(`-A POSTROUTING -j ${this.post}`);
    await restore({ filter: f, nat: n });
  }

  /** Adds a network's rules (after removing any it had: idempotent). */
  async addRules(net: NetworkRules): Promise<void> {
    await this.removeRules(net.id);
    const c = `-m comment --comment ${ruleComment(net.id)}`;
    const br = net.bridge;
    const f = [
      // before the isolation jump: a published port answers from other networks too
      `-I ${this.fwd} 2 -o ${br} -m conntrack --ctstate DNAT ${c} -j ACCEPT`,
      `-I ${this.iso1} 1 -i ${br} ! -o ${br} ${c} -j ${this.iso2}`,
      `-I ${this.iso2} 1 -o ${br} ${c} -j DROP`,
      `-A ${this.fwd} -i ${br} -o ${br} ${c} -j ${net.icc ? 'ACCEPT' : 'DROP'}`,
    ];
    if (net.internal) {
      f.push(`-A ${this.fwd} -i ${br} ! -o ${br} ${c} -j DROP`, `-A ${this.fwd} ! -i ${br} -o ${br} ${c} -j DROP`);
    } else {
      f.push(`-A ${this.fwd} -i ${br} ! -o ${br} ${c} -j ACCEPT`);
    }
    const n = net.internal ? [] : [`-A ${this.post} -s ${net.subnet} ! -o ${br} ${c} -j MASQUERADE`];
    await restore({ filter: f, nat: n });
  }

  async removeRules(netId: string): Promise<void> {
    const tag = ruleComment(netId);
    const del = (dump: string) =>
      this.ownRules(dump)
        .filter((l) => l.includes(tag))
        .map((l) => `-D ${l.slice(3)}`);
    await restore({ filter: del(await save('filter')), nat: del(await save('nat')) });
  }

  /** Network ids that have rules in Drydock's chains. */
  async ruleNetworkIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const t of ['filter', 'nat'] as const) {
      for (const l of this.ownRules(await save(t))) {
        const m = /drydock-net:([0-9a-f]{64})/.exec(l);
        if (m) ids.add(m[1]);
      }
    }
    return ids;
  }

  /** Rules ("-A ...") of this supervisor's chains only: another supervisor on the host (tests) has its own. */
  private ownRules(dump: string): string[] {
    const own = [this.fwd, this.iso1, this.iso2, this.post];
    return dump.split('\n').filter((l) => own.some((c) => l.startsWith(`-A ${c} `)));
  }

  /**
   * Containers that have portmap rules on the given CNI network names (`dnat name: "<net>" id:
   * "<container>"` comments of CNI-HOSTPORT-DNAT), to take down those no endpoint owns any more.
   */
  async portmapOwners(netNames: Set<string>): Promise<{ netName: string; containerId: string }[]> {
    const out = new Map<string, { netName: string; containerId: string }>();
    for (const m of (await save('nat')).matchAll(/dnat name: \\"([^"\\]+)\\" id: \\"([^"\\]+)\\"/g)) {
      if (netNames.has(m[1])) out.set(`${m[1]} ${m[2]}`, { netName: m[1], containerId: m[2] });
    }
    return [...out.values()];
  }

  /** Host ports any portmap rule on the host DNATs now ("tcp:8080"), whoever made it: taken for us too. */
  async dnatPorts(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const l of (await save('nat')).split('\n')) {
      if (!l.startsWith('-A CNI-HOSTPORT-DNAT ')) continue;
      const proto = / -p (\w+)/.exec(l)?.[1];
      const ports = / --dports (\S+)/.exec(l)?.[1];
      if (proto && ports) for (const p of ports.split(',')) out.add(`${proto}:${p}`);
    }
    return out;
  }

  /** Removes Drydock's chains and jumps (tests' teardown; the node's supervisor never does). */
  async removeBase(): Promise<void> {
    await run('iptables', ['-w', '-D', 'FORWARD', '-j', this.fwd]);
    await run('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-j', this.post]);
    for (const c of [this.fwd, this.iso1, this.iso2]) await run('iptables', ['-w', '-F', c]);
    for (const c of [this.fwd, this.iso1, this.iso2]) await run('iptables', ['-w', '-X', c]);
    await run('iptables', ['-w', '-t', 'nat', '-F', this.post]);
    await run('iptables', ['-w', '-t', 'nat', '-X', this.post]);
  }

  /** Creates the bridge with its gateway address, up; the alias names the network (found again at boot). */
  async createBridge(name: string, gatewayCidr: string, netId: string): Promise<void> {
    const r = await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    if (r.code !== 0 && !/File exists/.test(r.stderr)) throw new Error(`ip link add ${name}: ${r.stderr.trim()}`);
    await runOk('ip', ['link', 'set', 'dev', name, 'alias', `drydock-net:${netId}`]);
    const a = await run('ip', ['addr', 'add', gatewayCidr, 'dev', name]);
    if (a.code !== 0 && !/File exists|already assigned/.test(a.stderr)) throw new Error(`ip addr add ${gatewayCidr} dev ${name}: ${a.stderr.trim()}`);
    await runOk('ip', ['link', 'set', 'dev', name, 'up']);
  }

  async deleteBridge(name: string): Promise<void> {
    const r = await run('ip', ['link', 'del', 'dev', name]);
    if (r.code !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) throw new Error(`ip link del ${name}: ${r.stderr.trim()}`);
  }

  /** Bridges on the host: name, alias (drydock-net:<id> for Drydock's) and IPv4 addresses. */
  async bridges(): Promise<{ name: string; alias: string; addrs: string[] }[]> {
    const links = JSON.parse((await runOk('ip', ['-d', '-j', 'addr', 'show', 'type', 'bridge'])) || '[]') as { ifname: string; ifalias?: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[];
    return links.map((l) => ({ name: l.ifname, alias: l.ifalias ?? '', addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) }));
  }

  /** Host routes (main table, IPv4), for picking pools no route overlaps as dockerd does. */
  async routes(): Promise<Cidr[]> {
    const rs = JSON.parse((await runOk('ip', ['-j', '-4', 'route', 'show'])) || '[]') as { dst: string }[];
    return rs.filter((r) => r.dst !== 'default').map((r) => parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`)).filter((c): c is Cidr => !!c);
  }

  get logger(): Logger {
    return this.log;
  }
}

function hasRule(dump: string, rule: string): boolean {
  return dump.split('\n').some((l) => l.trim() === rule);
}

async function save(table: 'filter' | 'nat'): Promise<string> {
  return runOk('iptables-save', ['-t', table]);
}

async function restore(tables: { filter: string[]; nat: string[] }): Promise<void> {
  let input = '';
  for (const [t, lines] of Object.entries(tables)) if (lines.length) input += `*${t}\n${lines.join('\n')}\nCOMMIT\n`;
  if (!input) return;
  await runOk('iptables-restore', ['-w', '--noflush'], { input });
}
