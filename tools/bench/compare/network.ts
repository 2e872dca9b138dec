/**
 * The network rows of the comparison (`--only network`): both engines with bridge networking and
 * iptables, Docker with its docker-proxy on (dockerd's default), each on a private default bridge
 * and pool. Container start on the default bridge, network create + rm, 1 GB through a published
 * port (to 127.0.0.1 and to the host's own address), processes kept per published port, and the
 * resident memory of containers on a user-defined network (Drydock's drydock-dns counted).
 */
import { connect } from 'node:net';
import { freePort, waitFor } from '@drydock/infra';
import type { Engine, EngineProcess } from './engines';
import { descendantsOf, hostAddress, inHostPidNamespace } from './host-network';
import { stats, type Row } from './report';

export interface NetworkBenchConfig {
  warmups: number;
  runs: number;
  /** network create + rm pairs per engine */
  netOps: number;
  /** bytes per transfer through a published port */
  netBytes: number;
  netTransfers: number;
  /** published ports of the process-count container */
  netPorts: number;
  /** containers on a user-defined network for the memory row */
  netContainers: number;
}

export interface NetworkBenchContext {
  drydock: Engine;
  docker: Engine;
  engines: Engine[];
  cfg: NetworkBenchConfig;
  run(e: Engine, args: string[], opts?: { keep?: boolean; timeoutMs?: number }): Promise<{ ms: number; stdout: string }>;
  alternate(label: string, engines: Engine[], n: number, fn: (e: Engine, i: number) => Promise<number>): Promise<Map<Engine, number[]>>;
  workload(name: string, unit: string, fn: () => Promise<Omit<Row, 'workload' | 'unit'>>): Promise<void>;
  rssMb(procs: EngineProcess[]): number;
  removeAll(e: Engine): Promise<void>;
  notes: string[];
}

/**
 * Listens on 80: reads a connection to its end, then answers "ok" (the client's proof that every byte arrived).
 * busybox's nc by name: the test rootfs has no nc applet link.
 */
const SINK = ['busybox', 'nc', '-ll', '-p', '80', '-e', 'sh', '-c', 'cat > /dev/null; echo ok'];

/**
 * Sends `bytes` to host:port and waits for the sink's "ok" after its EOF; seconds from connect to the answer.
 * Rejects when the peer closes without answering (nothing listening behind a proxy, or a reset).
 */
export function sendThrough(host: string, port: number, bytes: number, timeoutMs = 300000): Promise<number> {
  return new Promise((res, rej) => {
    const chunk = Buffer.alloc(Math.min(bytes, 1 << 20), 0x61);
    const t0 = process.hrtime.bigint();
    const s = connect({ host, port });
    let answer = '';
    let sent = 0;
    const timer = setTimeout(() => s.destroy(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`)), timeoutMs);
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    s.once('connect', pump);
    s.on('data', (d: Buffer) => (answer += d.toString()));
    s.on('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (answer.trim() === 'ok') res(Number(process.hrtime.bigint() - t0) / 1e9);
      else rej(new Error(`${host}:${port} closed after ${sent} bytes without the sink's answer`));
    });
  });
}

/** What an engine keeps running on the host: daemons, per-container helpers and the daemons' descendants (not container processes). */
function hostProcesses(e: Engine): Set<number> {
  const own = [...e.daemons(), ...e.perContainer()].map((p) => p.pid);
  return new Set([...own, ...descendantsOf(e.daemons().map((p) => p.pid))].filter(inHostPidNamespace));
}

export async function networkWorkloads(c: NetworkBenchContext): Promise<void> {
  const { drydock: dd, docker: dk, engines, cfg } = c;
  const both = (m: Map<Engine, number[]>) => ({ drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!) });

  const run = ['run', '--rm', 'busybox', 'true'];
  await c.workload('`run --rm busybox true` on the default bridge', 'ms', async () => {
    await c.alternate('warm-up bridge', engines, cfg.warmups, async (e) => (await c.run(e, run)).ms);
    const m = await c.alternate('run --rm true (bridge)', engines, cfg.runs, async (e) => (await c.run(e, run)).ms);
    return { ...both(m), target: 'Drydock <= 0.75x Docker' };
  });

  await c.workload('`network create X` + `network rm X`', 'ms', async () => {
    const m = await c.alternate('network create + rm', engines, cfg.netOps, async (e, i) => {
      const name = `bench-net-${i}`;
      const created = await c.run(e, ['network', 'create', name]);
      const removed = await c.run(e, ['network', 'rm', name]);
      return created.ms + removed.ms;
    });
    return { ...both(m), target: 'Drydock <= Docker' };
  });

  const addr = hostAddress();
  const mb = cfg.netBytes / 1e6;
  const size = mb >= 1000 ? `${(mb / 1000).toFixed(mb % 1000 ? 1 : 0)} GB` : `${mb.toFixed(0)} MB`;
  const ports = new Map<Engine, number>();
  try {
    for (const e of engines) {
      const port = await freePort();
      ports.set(e, port);
      await c.run(e, ['run', '-d', '--name', 'sink', '-p', `${port}:80`, 'busybox', ...SINK]);
      // through the published port, so the rules (or the proxy's backend) are in place too
      await waitFor(() => sendThrough('127.0.0.1', port, 1, 2000).then(() => true, () => false), 15000, `${e.name}: the sink behind port ${port}`);
    }
    for (const [label, host] of [['127.0.0.1', '127.0.0.1'], [`the host's address (${addr})`, addr]] as const) {
      await c.workload(`${size} from the host through a published port to ${label}`, 'MB/s', async () => {
        const m = await c.alternate(`${size} to ${host}`, engines, cfg.netTransfers, async (e) => mb / (await sendThrough(host, ports.get(e)!, cfg.netBytes)));
        return { ...both(m), higherIsBetter: true, target: 'Drydock >= Docker' };
      });
    }
  } finally {
    for (const e of engines) await c.run(e, ['rm', '-f', 'sink']).catch(() => undefined);
  }

  const k = cfg.netPorts;
  await c.workload(`processes kept on the host per published port (a container with ${k} ports against one with none)`, 'processes', async () => {
    const perPort = new Map<Engine, number[]>();
    for (const e of engines) {
      await c.run(e, ['run', '-d', '--name', 'ports0', 'busybox', 'sleep', '600']);
      const without = hostProcesses(e).size;
      await c.run(e, ['rm', '-f', 'ports0']);
      const published = await Promise.all(Array.from({ length: k }, () => freePort()));
      await c.run(e, ['run', '-d', '--name', 'portsk', ...published.flatMap((p, i) => ['-p', `${p}:${80 + i}`]), 'busybox', 'sleep', '600']);
      const withPorts = hostProcesses(e).size;
      await c.run(e, ['rm', '-f', 'portsk']);
      perPort.set(e, [(withPorts - without) / k]);
      c.notes.push(`${e.name}: ${without} host processes with a container without ports, ${withPorts} with ${k} published ports`);
    }
    return { drydock: stats(perPort.get(dd)!), docker: stats(perPort.get(dk)!), target: 'Drydock: 0 (Docker: a docker-proxy per port)' };
  });

  const n = cfg.netContainers;
  await c.workload(`resident memory, ${n} containers on a user-defined network with a published port each (daemons + containerd + per-container processes)`, 'MB', async () => {
    const m = new Map<Engine, number[]>();
    for (const e of engines) {
      await c.run(e, ['network', 'create', 'bench-mem']);
      for (let i = 0; i < n; i++) await c.run(e, ['run', '-d', '--name', `mem${i}`, '--network', 'bench-mem', '-p', `${await freePort()}:80`, 'busybox', 'sleep', '600']);
    }
    try {
      await new Promise((r) => setTimeout(r, 2000));
      for (const e of engines) {
        const per = e.perContainer();
        const roles = [...new Set(per.map((p) => p.role))];
        const byRole = roles.map((r) => `${per.filter((p) => p.role === r).length} ${r} (${c.rssMb(per.filter((p) => p.role === r)).toFixed(1)} MB)`).join(', ');
        c.notes.push(`${e.name} with ${n} containers on a user-defined network, a published port each: ${e.daemons().map((p) => p.role).join(' + ')} (${c.rssMb(e.daemons()).toFixed(1)} MB) + ${byRole || 'no per-container processes'}`);
        m.set(e, [c.rssMb([...e.daemons(), ...per])]);
      }
    } finally {
      for (const e of engines) {
        await c.removeAll(e);
        await c.run(e, ['network', 'rm', 'bench-mem']).catch(() => undefined);
      }
    }
    return { ...both(m), target: 'drydock-dns counted in Drydock\'s total' };
  });
}
