// The overlay rows of `npm run bench:cluster` (issue 13): TCP throughput and round-trip time between two
// containers on two nodes (VXLAN) against two containers on one node (the same overlay's bridge), and the
// time from `docker run` on node2 to the name resolving in a container on node1. The probes run in the
// containers' own network namespaces (nsenter --net on their init pid) as a small Node program, so that
// the numbers are the network's and not the docker CLI's.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ClusterHarness } from '../cluster/cluster-harness';

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
  await c.ok('node1', ['network', 'create', '-d', 'overlay', '--subnet', '10.226.250.0/24', 'benchov']);
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
  return rows;
}
