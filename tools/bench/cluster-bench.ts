/**
 * The cost of dispatch on the real three-node cluster (issue 12): `docker run --rm --network none busybox
 * true` sent to node1 and run there, against the same with `-e constraint:node==node2` (placed by the
 * scheduler, created on node2 through node2's supervisor), alternating, median of N; `docker ps -a`
 * from node1 listing the containers of all three nodes; the node death -> rescheduled row when the
 * rescheduler provides it (tools/bench/cluster-reschedule.ts); the overlay rows (tools/bench/cluster-overlay.ts). Starts its own cluster with private
 * names (tools/cluster/cluster-harness.ts) and takes it down. Numbers are never asserted.
 *
 *   npm run bench:cluster -- [--runs 20] [--per-node 5] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { ClusterHarness } from '../cluster/cluster-harness';
import { measureOverlay } from './cluster-overlay';
import { measureNodeDeathToRescheduled } from './cluster-reschedule';

// The bundle lives at dist/tools/bench/.
const repo = resolve(__dirname, '../../..');
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const runs = Number(opt('runs', '20'));
const perNode = Number(opt('per-node', '5'));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = resolve(repo, opt('out', join('bench-results', `${stamp}-cluster`)));

interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: m, min: s[0], max: s[s.length - 1], n: s.length };
}
const cell = (s: Stats | undefined) => (s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})` : 'not measured');

async function main(): Promise<void> {
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(perNode) || perNode < 0) throw new Error('--runs and --per-node take whole numbers');
  const c = new ClusterHarness({ tag: 'cbench', root: repo, env: { DRYDOCK_LOG_LEVEL: 'error' } });
  const rows: { what: string; ms?: Stats; value?: string; note: string }[] = [];
  let startMs = 0;
  try {
    await c.setUp();
    const t0 = performance.now();
    await c.start();
    startMs = performance.now() - t0;
    await c.importBusybox();
    const local = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    const remote = ['run', '--rm', '--network', 'none', '-e', 'constraint:node==node2', 'busybox', 'true'];
    // warm-up: the first run of each path opens clients and connections
    for (let i = 0; i < 2; i++) for (const a of [local, remote]) await c.ok('node1', a);
    const times = { local: [] as number[], remote: [] as number[] };
    for (let i = 0; i < runs; i++) {
      for (const [k, a] of [['local', local], ['remote', remote]] as const) {
        const r = await c.docker('node1', a);
        if (r.code !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}`);
        times[k].push(r.ms);
      }
      process.stdout.write('.');
    }
    process.stdout.write('\n');
    const [l, r] = [stats(times.local), stats(times.remote)];
    rows.push({ what: 'docker run --rm --network none busybox true, node1 -> node1 (local)', ms: l, note: '' });
    // each dispatched run against the local run just before it: steadier than two medians on a busy machine
    const paired = stats(times.remote.map((x, i) => x - times.local[i]));
    rows.push({ what: 'the same with -e constraint:node==node2, node1 -> node2 (dispatched)', ms: r, note: `dispatch costs ${(r.median - l.median).toFixed(0)} ms (difference of medians); paired difference median ${paired.median.toFixed(0)} ms (${paired.min.toFixed(0)}–${paired.max.toFixed(0)})` });

    for (const n of c.nodes) for (let i = 0; i < perNode; i++) await c.ok(n, ['create', '--name', `ps-${n}-${i}`, 'busybox', 'true']);
    const ps: number[] = [];
    let listed = 0;
    for (let i = 0; i < runs; i++) {
      const res = await c.docker('node1', ['ps', '-a', '--format', '{{.Names}}']);
      if (res.code !== 0) throw new Error(`docker ps -a: ${res.stderr}`);
      listed = res.stdout.trim().split('\n').filter(Boolean).length;
      ps.push(res.ms);
    }
    rows.push({ what: `docker ps -a from node1 (${listed} containers on 3 nodes)`, ms: stats(ps), note: '' });

    // before the node death below: the overlay rows need node2
    for (const r of await measureOverlay(c, Math.min(runs, 5))) rows.push(r);

    const resched = await measureNodeDeathToRescheduled(c, Math.min(runs, 5));
    rows.push({
      what: 'node death -> rescheduled container running',
      ms: resched?.length ? stats(resched.map((s) => s.ms)) : undefined,
      note: resched ? 'from node2\'s last heartbeat (node2 frozen with SIGSTOP) to the copy running on another node; node down after 8 s' : 'needs two nodes',
    });
  } finally {
    await c.tearDown();
  }

  const command = `npm run bench:cluster${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  // other work on the machine moves these numbers: the load is part of the result
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`;
  const header = `real three-node cluster (npm run cluster, private names; cluster ready in ${(startMs / 1000).toFixed(1)} s); wall time of the docker CLI, ms, median (min–max) of ${runs}, alternating`;
  const table = [['', 'ms', 'note'], ...rows.map((x) => [x.what, x.value ?? cell(x.ms), x.note])];
  const md = [`# Cluster bench (${new Date().toISOString()})`, '', `Command: \`${command}\``, '', `Machine: ${machine}`, '', header, '',
    ...[table[0], table[0].map(() => '---'), ...table.slice(1)].map((row) => `| ${row.join(' | ')} |`), ''].join('\n');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.md'), md);
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ command, machine, runs, perNode, clusterReadyMs: startMs, rows }, null, 2));
  const w = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log(`\n${header}\n`);
  console.log(table.map((row) => row.map((x, i) => x.padEnd(w[i])).join('  ')).join('\n'));
  console.log(`\nwritten: ${join(outDir, 'results.md')}, results.json`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
