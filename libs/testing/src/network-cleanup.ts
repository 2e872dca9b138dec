import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a test supervisor's networks leave in the kernel when the test ends under running containers (containerd
 * stopped, so no CNI DEL ran): its portmap rules, its bridges (names under `bridgePrefix`, each holding a route
 * that takes an address pool) and its own iptables chains. Left behind, they exhaust the pools of the next
 * supervisors and redirect local traffic to the ports they published.
 */
export function removeNetworkObjects(o: { stateDir: string; bridgePrefix: string; chainPrefix: string }): void {
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'ignore' });
  const netDir = join(o.stateDir, 'supervisor', 'network', 'networks');
  // portmap names its rules after the CNI network, drydock-<first 12 of the network id>
  const names = existsSync(netDir) ? readdirSync(netDir).filter((f) => f.endsWith('.json')).map((f) => `drydock-${f.slice(0, 12)}`) : [];
  const nat = execFileSync('iptables-save', ['-t', 'nat']).toString().split('\n');
  for (const l of nat) {
    if (!l.startsWith('-A CNI-HOSTPORT-DNAT ') || !names.some((n) => l.includes(`\\"${n}\\"`))) continue;
    const chain = / -j (CNI-DN-\S+)/.exec(l)?.[1];
    sh(`iptables -w -t nat ${l.replace(/^-A /, '-D ')}; true`);
    if (chain) sh(`iptables -w -t nat -F ${chain}; iptables -w -t nat -X ${chain}; true`);
  }
  // overlay networks' VXLAN devices: on one of our bridges, or carrying the id of one of our records
  const ids = new Set(existsSync(netDir) ? readdirSync(netDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : []);
  const vx = JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'type', 'vxlan']).toString() || '[]') as { ifname: string; master?: string; ifalias?: string }[];
  for (const l of vx) if (l.master?.startsWith(o.bridgePrefix) || ids.has((l.ifalias ?? '').replace(/^drydock-ovl:/, ''))) sh(`ip link del ${l.ifname}; true`);
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge']).toString() || '[]') as { ifname: string }[];
  for (const l of links) if (l.ifname.startsWith(o.bridgePrefix)) sh(`ip link del ${l.ifname}; true`);
  const p = o.chainPrefix;
  sh(`iptables -w -D FORWARD -j ${p}-FORWARD 2>/dev/null; iptables -w -t nat -D POSTROUTING -j ${p}-POSTROUTING 2>/dev/null; true`);
  for (const c of ['FORWARD', 'ISOLATION-1', 'ISOLATION-2']) sh(`iptables -w -F ${p}-${c} 2>/dev/null; true`);
  for (const c of ['FORWARD', 'ISOLATION-1', 'ISOLATION-2']) sh(`iptables -w -X ${p}-${c} 2>/dev/null; true`);
  sh(`iptables -w -t nat -F ${p}-POSTROUTING 2>/dev/null; iptables -w -t nat -X ${p}-POSTROUTING 2>/dev/null; true`);
}
