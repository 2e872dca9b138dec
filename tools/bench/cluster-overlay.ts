// The overlay rows of `npm run bench:cluster` (issue 13): TCP throughput and round-trip time between two
// containers on two nodes (VXLAN) against two containers on one node (the same overlay's bridge), and the
// time from `docker run` on node2 to the name resolving in a container on node1. The probes run in the
// containers' own network namespaces (nsenter --net on their init pid) as a small Node program, so that
// the numbers are the network's and not the docker CLI's.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect, JSONCodec } from 'nats';
import { beats, type ClusterHarness } from '../cluster/cluster-harness';
import { formatIp, macForIp, parseIp } from '../../apps/containerd-supervisor/src/networks/cidr';
import { OVERLAY_BUCKET } from '../../apps/containerd-supervisor/src/networks/overlay/kv-overlay-store';
import type { OverlayEndpoint } from '../../apps/containerd-supervisor/src/networks/overlay/overlay-types';

const run = promisify(execFile);

/** Server: 'T' connections are drained and answered with the byte count at the end; 'P' ones echoed. */
const SERVER = `
const net = require('node:net');
net.createServer((s) => {
  let mode = '', n = 0, want = 0;
  s.on('data', (d) => {
    if (!mode) { mode = String.fromCharCode(d[0]); if (mode === 'T') want = d.readUInt32BE(1) * 1048576; d = d.subarray(mode === 'T' ? 5 : 1); }
    if (mode === 'P') { if (d.length) s.write(d); return; }
    n += d.length;
    if (n >= want) s.end('ok');
  });
  s.on('error', () => {});
}).listen(5201, '0.0.0.0', () => process.stdout.write('listening\\n'));
`;

/** Client: MB of data (throughput) then round trips of one byte; prints JSON. */
const CLIENT = `
const net = require('node:net');
const [host, mb, trips] = process.argv.slice(1);
const t = net.connect(5201, host, () => {
  const head = Buffer.alloc(5); head.write('T'); head.writeUInt32BE(Number(mb), 1);
  const chunk = Buffer.alloc(1048576, 7);
  const t0 = process.hrtime.bigint();
  t.write(head);
  let i = 0;
  const pump = () => { while (i < Number(mb)) { i++; if (!t.write(chunk)) return void t.once('drain', pump); } };
  pump();
  t.on('data', () => {
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    t.destroy();
    const p = net.connect(5201, host, () => {
      p.setNoDelay(true);
      p.write('P');
      const rtts = [];
      let last = process.hrtime.bigint();
      const one = () => { last = process.hrtime.bigint(); p.write('x'); };
      p.on('data', () => {
        rtts.push(Number(process.hrtime.bigint() - last) / 1e6);
        if (rtts.length < Number(trips) + 50) return one();
        p.destroy();
        const s = rtts.slice(50).sort((a, b) => a - b);
        process.stdout.write(JSON.stringify({ mbPerS: Number(mb) / secs, rttMs: s[s.length >> 1], rttP99Ms: s[Math.floor(s.length * 0.99)] }));
      });
      one();
    });
  });
});
`;

export interface OverlayRow {
  what: string;
  value: string;
  note: string;
}

async function pidOf(c: ClusterHarness, node: string, name: string): Promise<number> {
  return Number(await c.ok(node, ['inspect', '-f', '{{.State.Pid}}', name]));
}

/** One probe from `client`'s namespace to `server`'s address (both containers' init pids). */
async function probe(serverPid: number, clientPid: number, serverIp: string, mb: number, trips: number): Promise<{ mbPerS: number; rttMs: number; rttP99Ms: number }> {
  const srv = spawn('nsenter', [`--net=/proc/${serverPid}/ns/net`, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res, rej) => {
      srv.stdout!.once('data', () => res());
      srv.once('exit', (code) => rej(new Error(`probe server exited with ${code}`)));
    });
    const { stdout } = await run('nsenter', [`--net=/proc/${clientPid}/ns/net`, process.execPath, '-e', CLIENT, serverIp, String(mb), String(trips)], { timeout: 120000 });
    return JSON.parse(stdout) as { mbPerS: number; rttMs: number; rttP99Ms: number };
  } finally {
    srv.kill('SIGKILL');
  }
}

/** The overlay rows; `rounds` probes per pair, the best throughput and the median RTT kept. */
export async function measureOverlay(c: ClusterHarness, rounds: number): Promise<OverlayRow[]> {
  const rows: OverlayRow[] = [];
  await c.ok('node1', ['network', 'create', '-d', 'overlay', '--subnet', '10.226.240.0/20', 'benchov']);
  const sleeper = (node: string, name: string) => c.ok(node, ['run', '-d', '--name', name, '--network', 'benchov', 'busybox', 'sleep', '3600']);
  await sleeper('node1', 'ov-a');
  await sleeper('node1', 'ov-b');
  await sleeper('node2', 'ov-c');
  const ip = async (node: string, name: string) => c.ok(node, ['inspect', '-f', '{{.NetworkSettings.Networks.benchov.IPAddress}}', name]);
  const [a, b, cc] = [await pidOf(c, 'node1', 'ov-a'), await pidOf(c, 'node1', 'ov-b'), await pidOf(c, 'node2', 'ov-c')];
  const [ipB, ipC] = [await ip('node1', 'ov-b'), await ip('node2', 'ov-c')];
  const same: { mbPerS: number; rttMs: number; rttP99Ms: number }[] = [];
  const cross: typeof same = [];
  for (let i = 0; i < rounds; i++) {
    same.push(await probe(b, a, ipB, 512, 2000));
    cross.push(await probe(cc, a, ipC, 512, 2000));
  }
  const best = (xs: typeof same) => Math.max(...xs.map((x) => x.mbPerS));
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
  const [s, x] = [best(same), best(cross)];
  rows.push({ what: 'overlay TCP throughput, one node (two containers, node1)', value: `${s.toFixed(0)} MB/s`, note: `best of ${rounds}, 512 MB` });
  rows.push({ what: 'overlay TCP throughput, two nodes (node1 -> node2, VXLAN)', value: `${x.toFixed(0)} MB/s`, note: `ratio ${(x / s).toFixed(2)} of one node (the netns hosts share one kernel)` });
  const [rs, rx] = [med(same.map((r) => r.rttMs)), med(cross.map((r) => r.rttMs))];
  rows.push({ what: 'overlay TCP round trip, one node', value: `${(rs * 1000).toFixed(0)} µs`, note: `median of ${rounds} × 2000 one-byte round trips; p99 ${(med(same.map((r) => r.rttP99Ms)) * 1000).toFixed(0)} µs` });
  rows.push({ what: 'overlay TCP round trip, two nodes', value: `${(rx * 1000).toFixed(0)} µs`, note: `ratio ${(rx / rs).toFixed(2)}; p99 ${(med(cross.map((r) => r.rttP99Ms)) * 1000).toFixed(0)} µs` });

  // docker run on node2 -> the name answers in ov-a on node1 (polled inside ov-a's namespace every 10 ms)
  const resolveMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const name = `ov-late${i}`;
    const poll = run('nsenter', [`--net=/proc/${a}/ns/net`, process.execPath, '-e', `
const dns = require('node:dns'); const r = new dns.Resolver(); r.setServers(['127.0.0.11']);
const t0 = Date.now(); const go = () => r.resolve4('${name}', (e) => e ? (Date.now() - t0 > 30000 ? process.exit(1) : setTimeout(go, 10)) : process.stdout.write(String(Date.now())));
go();`], { timeout: 40000 });
    const t0 = Date.now();
    await c.ok('node2', ['run', '-d', '--name', name, '--network', 'benchov', 'busybox', 'sleep', '3600']);
    const resolvedAt = Number((await poll).stdout);
    resolveMs.push(resolvedAt - t0);
  }
  rows.push({ what: 'docker run on node2 -> its name resolves on node1', value: `${med(resolveMs).toFixed(0)} ms`, note: `median of ${rounds} (${Math.min(...resolveMs)}–${Math.max(...resolveMs)}), from the run command's start; includes the run itself` });
  rows.push(...(await thousandEndpoints(c, 1000)));
  rows.push(await entriesAfterJoin(c));
  return rows;
}

/** Permanent neighbour entries on a node's VXLAN devices (one per remote endpoint). */
function neighEntries(netns: string): number {
  const out = execFileSync('ip', ['-n', netns, '-j', 'neigh', 'show', 'nud', 'permanent'], { encoding: 'utf8' });
  return (JSON.parse(out || '[]') as { dev: string }[]).filter((e) => e.dev.startsWith('vx-')).length;
}

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * N endpoints spread over the three nodes, published into the cluster's store as a node's supervisor
 * publishes them (synthetic containers: N real ones would not fit in memory), and the time until every
 * node has programmed the entries of the others' (each node holds the two thirds that are not its own);
 * then each supervisor's resident memory with them, and they are withdrawn again.
 */
async function thousandEndpoints(c: ClusterHarness, n: number): Promise<OverlayRow[]> {
  const nc = await connect({ servers: c.natsUrls });
  try {
    const js = nc.jetstream({ timeout: 10000 });
    const kv = await js.views.kv(OVERLAY_BUCKET, { bindOnly: true });
    const nodesKv = await js.views.kv('drydock_nodes', { bindOnly: true });
    const byName = new Map<string, string>();
    // keys first: a get inside the keys iterator cuts it short
    const keys: string[] = [];
    for await (const k of await nodesKv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await nodesKv.get(k);
      if (e?.operation === 'PUT') byName.set(JSONCodec<{ name: string }>().decode(e.value).name, k);
    }
    const net = JSON.parse(await c.ok('node1', ['network', 'inspect', 'benchov'])) as { Id: string }[];
    const netId = net[0].Id;
    const netns = (node: string) => `${c.netnsPrefix}${node}`;
    const base = c.nodes.map((node) => neighEntries(netns(node)));
    const rssBefore = c.nodes.map((node) => rssMb(c.recordedPid(`${node}.supervisor`)));
    const codec = JSONCodec<OverlayEndpoint>();
    const eps: OverlayEndpoint[] = [];
    for (let i = 0; i < n; i++) {
      const node = c.nodes[i % c.nodes.length];
      const ip = parseIp('10.226.241.0')! + i; // clear of the real containers' .240.x
      const ipText = formatIp(ip);
      // the MAC a supervisor gives that address
      const mac = macForIp(ip);
      eps.push({ networkId: netId, endpointId: `bench${String(i).padStart(59, '0')}`, containerId: `b${String(i).padStart(63, '0')}`, containerName: `bench-ep-${i}`, aliases: [], ip: ipText, prefix: 20, mac, nodeId: byName.get(node)!, nodeName: node, vtep: c.nodeAddress(c.nodes.indexOf(node)) });
    }
    const want = c.nodes.map((node, k) => base[k] + eps.filter((e) => e.nodeName !== node).length);
    const t0 = performance.now();
    await Promise.all(eps.map((e) => kv.put(`ep.${netId}.${e.endpointId}`, codec.encode(e))));
    const publishedMs = performance.now() - t0;
    const doneAt: number[] = c.nodes.map(() => 0);
    while (doneAt.some((d) => !d) && performance.now() - t0 < 120000) {
      c.nodes.forEach((node, k) => {
        if (!doneAt[k] && neighEntries(netns(node)) >= want[k]) doneAt[k] = performance.now() - t0;
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    const rssAfter = c.nodes.map((node) => rssMb(c.recordedPid(`${node}.supervisor`)));
    await Promise.all(eps.map((e) => kv.delete(`ep.${netId}.${e.endpointId}`)));
    // the next row counts a node's entries: wait until the withdrawn ones are gone everywhere
    const settleUntil = performance.now() + 60000;
    while (c.nodes.some((node, k) => neighEntries(netns(node)) > base[k]) && performance.now() < settleUntil) await new Promise((r) => setTimeout(r, 50));
    const entries = want.reduce((a, w, k) => a + (w - base[k]), 0);
    const last = Math.max(...doneAt);
    return [
      {
        what: `${n} endpoints over 3 nodes: all peer entries programmed`,
        value: doneAt.every((d) => d) ? `${last.toFixed(0)} ms` : 'not within 120 s',
        note: `${entries} neighbour + ${entries} FDB entries on 3 nodes, ${(entries / (last / 1000)).toFixed(0)} endpoints/s from the first put (puts took ${publishedMs.toFixed(0)} ms); per node ${doneAt.map((d) => d.toFixed(0)).join(' / ')} ms`,
      },
      {
        what: `supervisor resident memory with ${n} overlay endpoints`,
        value: rssAfter.map((x) => `${x.toFixed(0)}`).join(' / ') + ' MB',
        note: `node1 / node2 / node3; before: ${rssBefore.map((x) => x.toFixed(0)).join(' / ')} MB`,
      },
    ];
  } finally {
    await nc.close();
  }
}

/**
 * A node that (re)joins with no peer entries: node3's supervisor SIGKILLed and its neighbour entries
 * flushed while it is away (the cluster tool's watchdog starts it again), then the time from its first
 * heartbeat after the restart to its entries being back.
 */
async function entriesAfterJoin(c: ClusterHarness): Promise<OverlayRow> {
  const node = 'node3';
  const ns = `${c.netnsPrefix}${node}`;
  const want = neighEntries(ns);
  const nc = await connect({ servers: c.natsUrls });
  try {
    const pid = c.recordedPid(`${node}.supervisor`);
    if (!pid) throw new Error('node3 supervisor pid not recorded');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const devs = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'type', 'vxlan'], { encoding: 'utf8' }) || '[]') as { ifname: string }[]).map((d) => d.ifname);
    for (const d of devs) execFileSync('ip', ['-n', ns, 'neigh', 'flush', 'dev', d, 'nud', 'permanent']);
    const flushed = neighEntries(ns);
    let beat = 0;
    let done = 0;
    const until = Date.now() + 90000;
    while ((!done || !beat) && Date.now() < until) {
      if (!beat) {
        const t = (await beats(nc))[node] ?? 0;
        if (t > killedAt) beat = t;
      }
      if (!done && neighEntries(ns) >= want) done = Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      what: 'a node joining with no entries: its first heartbeat -> its peer entries programmed',
      value: done && beat ? `${done - beat} ms` : "not within 90 s",
      note: `node3's supervisor SIGKILLed, its ${want} neighbour entries flushed (${flushed} left), restarted by the tool; first beat ${beat ? beat - killedAt : '?'} ms after the kill`,
    };
  } finally {
    await nc.close();
  }
}
