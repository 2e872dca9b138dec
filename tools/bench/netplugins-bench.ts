/**
 * The two network plugin sets the design allows, on one workload: setting up and tearing down one
 * container's network namespace on a bridge with one published TCP port, N times, while a keeper
 * namespace holds the network's own state (bridge, masquerade and forward rules), as a second
 * container on a running network sees it.
 *
 *  - CNI: Debian's containernetworking-plugins, the chain Drydock runs per endpoint (bridge with static
 *    IPAM and hairpin, then portmap with snat), config on stdin, CNI_* in the environment, as libcni does.
 *  - netavark 1.4.0 (Debian), driven as podman does: `netavark --config <dir> setup|teardown <netns>` with
 *    the network options JSON on stdin; optionally with dns_enabled, which starts aardvark-dns.
 *
 * Wall time per call from here; CPU time and peak resident memory from the kernel's rusage of each plugin
 * process and everything it waited for (iptables, the IPAM plugin), through /usr/bin/time. Every bridge,
 * namespace, rule, chain and process the bench made is removed at the end, on failure too.
 *
 *   npm run bench:netplugins                    # 50 ops per plugin set
 *   npm run bench:netplugins -- --ops 10 --no-dns
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@drydock/infra';
import { stats, type Stats } from './compare/report';

const repo = resolve(__dirname, '../../..');
const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : dflt);
const OPS = arg('ops', 50);
const WITH_DNS = !argv.includes('--no-dns');
const CNI_DIR = '/usr/lib/cni';
const NETAVARK = '/usr/lib/podman/netavark';
const AARDVARK = '/usr/lib/podman/aardvark-dns';
const TIME = '/usr/bin/time';

/** The bench's own names: netns ddnp-*, bridges ddnpc0/ddnpn0/ddnpd0, subnets 10.174-10.176 (no test or bench pool uses them). */
const PREFIX = 'ddnp';

interface Call {
  ms: number;
  cpuMs: number;
  maxRssKb: number;
  stdout: string;
}

/** One plugin process under /usr/bin/time: wall time here, user+sys and peak RSS of it and its reaped children. */
function call(bin: string, args: string[], input: string, env: Record<string, string>, dir: string): Promise<Call> {
  const rusage = join(dir, `rusage-${randomBytes(4).toString('hex')}`);
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%U %S %M', '-o', rusage, bin, ...args], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const line = existsSync(rusage) ? readFileSync(rusage, 'utf8').trim().split('\n').pop()! : '';
      rmSync(rusage, { force: true });
      if (code !== 0) return rej(new Error(`${bin} ${args.join(' ')} exited ${code}: ${(stderr || stdout).trim().slice(-600)}`));
      const [u, s, m] = line.split(' ').map(Number);
      res({ ms, cpuMs: (u + s) * 1000, maxRssKb: m, stdout });
    });
    child.stdin.end(input);
  });
}

const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (cmd: string) => {
  try {
    sh(cmd);
  } catch {
    // already gone
  }
};

/** A plugin set: network-level state once (keeper), then per-container setup/teardown. */
interface PluginSet {
  name: string;
  bridge: string;
  subnet: string;
  setup(ns: string, ip: string, hostPort: number, withPort: boolean): Promise<Call[]>;
  teardown(ns: string, ip: string, hostPort: number, withPort: boolean): Promise<Call[]>;
  /** Long-lived processes the set leaves running (aardvark-dns). */
  residents(): number[];
}

function cniSet(dir: string): PluginSet {
  const bridge = `${PREFIX}c0`;
  const prefix = '10.174.0';
  const ids = new Map<string, string>();
  const chain = (ip: string, hostPort: number, withPort: boolean) => [
    { type: 'bridge', bridge, isGateway: true, isDefaultGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'static', addresses: [{ address: `${ip}/24`, gateway: `${prefix}.1` }] } },
    ...(withPort ? [{ type: 'portmap', snat: true, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp', hostIP: '' }] } }] : []),
  ];
  const exec = (cmd: 'ADD' | 'DEL', ns: string, plugin: Record<string, unknown>, prevResult?: unknown) =>
    call(join(CNI_DIR, plugin.type as string), [], JSON.stringify({ cniVersion: '1.0.0', name: `${PREFIX}-cni`, ...plugin, ...(prevResult ? { prevResult } : {}) }), {
      CNI_COMMAND: cmd, CNI_CONTAINERID: ids.get(ns)!, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: CNI_DIR,
    }, dir);
  return {
    name: 'CNI (bridge + portmap, as Drydock)',
    bridge,
    subnet: `${prefix}.0/24`,
    async setup(ns, ip, hostPort, withPort) {
      ids.set(ns, randomBytes(32).toString('hex'));
      const out: Call[] = [];
      let prev: unknown;
      for (const p of chain(ip, hostPort, withPort)) {
        const c = await exec('ADD', ns, p, prev);
        prev = JSON.parse(c.stdout);
        out.push(c);
      }
      return out;
    },
    async teardown(ns, ip, hostPort, withPort) {
      const out: Call[] = [];
      for (const p of chain(ip, hostPort, withPort).reverse()) out.push(await exec('DEL', ns, p));
      return out;
    },
    residents: () => [],
  };
}

function netavarkSet(dir: string, dns: boolean): PluginSet {
  const bridge = dns ? `${PREFIX}d0` : `${PREFIX}n0`;
  const prefix = dns ? '10.176.0' : '10.175.0';
  const configDir = join(dir, dns ? 'netavark-dns' : 'netavark');
  mkdirSync(configDir, { recursive: true });
  const netName = `${PREFIX}-${dns ? 'dns' : 'nv'}`;
  const netId = randomBytes(32).toString('hex');
  const ids = new Map<string, string>();
  const options = (ns: string, ip: string, hostPort: number, withPort: boolean) =>
    JSON.stringify({
      container_id: ids.get(ns)!,
      container_name: ns,
      port_mappings: withPort ? [{ host_ip: '', container_port: 80, host_port: hostPort, range: 1, protocol: 'tcp' }] : [],
      networks: { [netName]: { static_ips: [ip], aliases: [ns], interface_name: 'eth0' } },
      network_info: {
        [netName]: {
          name: netName, id: netId, driver: 'bridge', network_interface: bridge,
          subnets: [{ subnet: `${prefix}.0/24`, gateway: `${prefix}.1` }],
          ipv6_enabled: false, internal: false, dns_enabled: dns, ipam_options: { driver: 'host-local' },
        },
      },
    });
  const run = (cmd: 'setup' | 'teardown', ns: string, ip: string, hostPort: number, withPort: boolean) =>
    call(NETAVARK, ['--config', configDir, '--aardvark-binary', AARDVARK, cmd, `/run/netns/${ns}`], options(ns, ip, hostPort, withPort), {}, dir);
  return {
    name: dns ? 'netavark + aardvark-dns (dns_enabled)' : 'netavark',
    bridge,
    subnet: `${prefix}.0/24`,
    async setup(ns, ip, hostPort, withPort) {
      ids.set(ns, randomBytes(32).toString('hex'));
      return [await run('setup', ns, ip, hostPort, withPort)];
    },
    async teardown(ns, ip, hostPort, withPort) {
      return [await run('teardown', ns, ip, hostPort, withPort)];
    },
    residents() {
      const pidfile = join(configDir, 'aardvark-dns', 'aardvark.pid');
      return existsSync(pidfile) ? [Number(readFileSync(pidfile, 'utf8').trim())].filter((p) => p > 0 && existsSync(`/proc/${p}`)) : [];
    },
  };
}

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** netavark's and our names only: chains NETAVARK*, jumps to them, rules naming our subnets or bridges. */
function removeHostObjects(sets: PluginSet[], namespaces: Set<string>, residents: number[], netavarkChainsBefore: boolean): void {
  for (const pid of residents) quiet(`kill -9 ${pid}`);
  for (const ns of namespaces) quiet(`ip netns del ${ns}`);
  const ours = (l: string) => sets.some((s) => l.includes(s.subnet) || l.includes(`-i ${s.bridge} `) || l.includes(`-o ${s.bridge} `)) || (!netavarkChainsBefore && / -j NETAVARK\S*/.test(l));
  for (const table of ['filter', 'nat']) {
    const lines = sh(`iptables-save -t ${table}`).split('\n');
    for (const l of lines) if (l.startsWith('-A ') && ours(l)) quiet(`iptables -w -t ${table} ${l.replace(/^-A /, '-D ')}`);
    if (netavarkChainsBefore) continue;
    const chains = lines.filter((l) => l.startsWith(':NETAVARK')).map((l) => l.slice(1).split(' ')[0]);
    for (const c of chains) quiet(`iptables -w -t ${table} -F ${c}`);
    for (const c of chains) quiet(`iptables -w -t ${table} -X ${c}`);
  }
  for (const s of sets) quiet(`ip link del ${s.bridge}`);
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (s?: Stats) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '');

async function main(): Promise<void> {
  for (const [f, pkg] of [[join(CNI_DIR, 'bridge'), 'containernetworking-plugins'], [join(CNI_DIR, 'portmap'), 'containernetworking-plugins'], [NETAVARK, 'netavark'], [TIME, 'time']] as const) {
    if (!existsSync(f)) throw new Error(`${f} is missing: install the Debian package ${pkg} (bash tools/install/ensure-deps.sh --netplugins)`);
  }
  const dns = WITH_DNS && existsSync(AARDVARK);
  const netavarkChainsBefore = sh('iptables-save').split('\n').some((l) => l.startsWith(':NETAVARK'));
  const dir = join(tmpdir(), `${PREFIX}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const sets = [cniSet(dir), netavarkSet(dir, false), ...(dns ? [netavarkSet(dir, true)] : [])];
  const namespaces = new Set<string>();
  const residents = new Set<number>();
  type Result = { set: string; setup: number[]; teardown: number[]; cpu: number[]; rss: number[]; calls: number; residentKb?: number };
  const results: Result[] = [];
  const stopAll = () => removeHostObjects(sets, namespaces, [...residents], netavarkChainsBefore);
  const onSignal = () => {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const newNs = () => {
    const ns = `${PREFIX}-${randomBytes(4).toString('hex')}`;
    sh(`ip netns add ${ns}`);
    namespaces.add(ns);
    return ns;
  };
  try {
    // the sets take turns per op (CNI, netavark, netavark+dns, CNI, ...), so drift of the shared machine hits all
    const keepers = new Map<PluginSet, string>();
    const ports = new Map<PluginSet, number>();
    for (const s of sets) {
      const keeper = newNs();
      await s.setup(keeper, s.subnet.replace(/0\/24$/, '2'), 0, false);
      keepers.set(s, keeper);
      ports.set(s, await freePort());
      for (const p of s.residents()) residents.add(p);
      results.push({ set: s.name, setup: [], teardown: [], cpu: [], rss: [], calls: 0 });
    }
    for (let i = 0; i < OPS; i++) {
      for (const [k, s] of sets.entries()) {
        process.stdout.write(`\r\x1b[K${s.name}: ${i + 1}/${OPS}`);
        const ns = newNs();
        const ip = s.subnet.replace(/0\/24$/, '3');
        const up = await s.setup(ns, ip, ports.get(s)!, true);
        const down = await s.teardown(ns, ip, ports.get(s)!, true);
        sh(`ip netns del ${ns}`);
        namespaces.delete(ns);
        const r = results[k];
        r.setup.push(up.reduce((a, c) => a + c.ms, 0));
        r.teardown.push(down.reduce((a, c) => a + c.ms, 0));
        r.cpu.push([...up, ...down].reduce((a, c) => a + c.cpuMs, 0));
        r.rss.push(Math.max(...[...up, ...down].map((c) => c.maxRssKb)) / 1024);
        r.calls = up.length + down.length;
      }
    }
    process.stdout.write('\n');
    for (const [k, s] of sets.entries()) {
      for (const p of s.residents()) residents.add(p);
      const kb = s.residents().reduce((a, p) => a + rssKb(p), 0);
      if (s.residents().length) results[k].residentKb = kb;
      await s.teardown(keepers.get(s)!, s.subnet.replace(/0\/24$/, '2'), 0, false);
    }
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }

  const command = `npm run bench:netplugins${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const rows = [['plugin set', 'processes per op', 'setup ms', 'teardown ms', 'setup + teardown ms', 'CPU ms per op', 'peak RSS MB', 'resident after']];
  for (const r of results) {
    const sum = r.setup.map((x, i) => x + r.teardown[i]);
    rows.push([r.set, `${r.calls} plugin calls`, cell(stats(r.setup)), cell(stats(r.teardown)), cell(stats(sum)), cell(stats(r.cpu)), cell(stats(r.rss)), r.residentKb !== undefined ? `aardvark-dns ${(r.residentKb / 1024).toFixed(1)} MB` : 'nothing']);
  }
  const versions = [
    `netavark: ${sh(`${NETAVARK} --version`).trim()}`,
    `CNI plugins: ${sh(`dpkg-query -W -f='\${Version}' containernetworking-plugins`).trim()} (${CNI_DIR})`,
    `iptables: ${sh('iptables --version').trim()}`,
  ];
  const header = `${OPS} ops per set; one op = a new netns, setup with one published TCP port, teardown; a keeper netns holds each network. Median (min–max).`;
  const md = [`# netavark against the CNI plugins (${new Date().toISOString()})`, '', `Command: \`${command}\``, '', ...versions.map((v) => `- ${v}`), '', header, '',
    ...[rows[0], rows[0].map(() => '---'), ...rows.slice(1)].map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
  const out = resolve(repo, 'bench-results', `netplugins-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.md'), md);
  writeFileSync(join(out, 'results.json'), JSON.stringify({ command, ops: OPS, versions, results }, null, 2));
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(`\n${versions.join('\n')}\n\n${header}\n`);
  console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
  console.log(`\nwritten: ${join(out, 'results.md')}, results.json`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
