// Where a service's memory goes under load: starts the Drydock stack alone (as the bench runs it, plus
// --heapsnapshot-signal), records each service's VmRSS and a heap snapshot idle, runs an everyday CLI load
// (run, logs, exec, inspect, ps, pull, push, build, events), lets it settle, records them again and prints the
// largest heap growth by constructor per service.
// Usage: npm run bench:memory [-- --rounds N] [-- --keep DIR]
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NODE_FLAGS } from '@drydock/runtime';
import { buildBusyboxRootfsTar } from '@drydock/testing';
import { DrydockEngine, findDockerCli, type EngineProcess } from './compare/engines';
import { PullRegistry } from './compare/pull';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => (argv.indexOf(`--${k}`) >= 0 ? argv[argv.indexOf(`--${k}`) + 1] : d);
const rounds = Number(arg('rounds', '3'));
const withSnapshots = argv.includes('--snapshots');
// --pull-mb N: each round pulls (and pushes) an image of N MB in two layers
const pullBytes = Number(arg('pull-mb', '0.6')) * 1e6;
const cli = findDockerCli();
const SERVICES = ['supervisor', 'gateway', 'registry-proxy', 'builder'];

function docker(e: DrydockEngine, cfg: string, args: string[], input?: string): Promise<string> {
  return new Promise((res, rej) => {
    const c = spawn(cli, args, { env: { PATH: process.env.PATH, HOME: cfg, DOCKER_CONFIG: cfg, DOCKER_HOST: `unix://${e.socket}`, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    if (input !== undefined) c.stdin.end(input);
    else c.stdin.end();
    c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`docker ${args.join(' ')} exited ${code}: ${err.slice(-300)}`))));
  });
}

const rssMb = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0) / 1024;

/** Self size and count per "type:name" of a V8 heap snapshot. */
function summarize(file: string): Map<string, { size: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const [ti, ni, si] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map<string, { size: number; count: number }>();
  const nodes: number[] = snap.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + ti]];
    const name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[nodes[i + ni]] : '';
    const k = `${type}:${String(name).slice(0, 60)}`;
    const e = out.get(k) ?? { size: 0, count: 0 };
    e.size += nodes[i + si];
    e.count++;
    out.set(k, e);
  }
  return out;
}

async function load(e: DrydockEngine, cfg: string, reg: PullRegistry, dir: string, round: number): Promise<void> {
  const d = (...a: string[]) => docker(e, cfg, a);
  await d('run', '--rm', 'busybox', 'echo', 'hi');
  await d('run', '--rm', '-e', 'A=1', 'busybox', 'sh', '-c', 'echo $A; seq 1 2000');
  const id = (await d('run', '-d', '--name', `m${round}`, 'busybox', 'sh', '-c', 'seq 1 5000; sleep 600')).trim();
  await d('logs', id);
  await d('logs', '--tail', '10', id);
  for (let i = 0; i < 5; i++) await d('exec', id, 'echo', String(i));
  await docker(e, cfg, ['exec', '-i', id, 'cat'], 'stdin data\n'.repeat(100));
  await d('inspect', id);
  await d('ps', '-a');
  await d('top', id);
  await d('stats', '--no-stream', id);
  await d('rename', `m${round}`, `n${round}`);
  await d('pause', id);
  await d('unpause', id);
  await d('restart', '-t', '1', id);
  await d('stop', '-t', '1', id);
  await d('wait', id);
  await d('rm', id);
  for (let i = 0; i < 5; i++) await d('run', '-d', '--name', `p${round}-${i}`, 'busybox', 'sleep', '600');
  await d('rm', '-f', ...Array.from({ length: 5 }, (_, i) => `p${round}-${i}`));
  await d('volume', 'create', `v${round}`);
  await d('run', '--rm', '-v', `v${round}:/data`, 'busybox', 'sh', '-c', 'echo x > /data/x');
  await d('volume', 'rm', `v${round}`);
  const since = Math.floor(Date.now() / 1000) - 5;
  await d('events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1));
  await d('images');
  await d('info');
  await d('version');
  await d('system', 'df');
  const img = await reg.fresh(`probe-${round}`, [Math.round(pullBytes * 0.67), Math.round(pullBytes * 0.33)]);
  await d('pull', img.ref);
  await d('tag', img.ref, `${reg.host}/probe/retag:${round}`);
  await d('push', `${reg.host}/probe/retag:${round}`);
  await d('rmi', img.ref, `${reg.host}/probe/retag:${round}`);
  const ctx = join(dir, `ctx${round}`);
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nRUN echo ${round} > /r && seq 1 1000\nCOPY f /f\nCMD ["cat", "/r"]\n`);
  writeFileSync(join(ctx, 'f'), 'f\n'.repeat(10000));
  await d('build', '--network', 'none', '-t', `probe/b:${round}`, ctx);
  await d('run', '--rm', `probe/b:${round}`);
  await d('rmi', `probe/b:${round}`);
  await d('save', '-o', join(dir, 'save.tar'), 'busybox');
  await d('load', '-i', join(dir, 'save.tar'));
  await d('container', 'prune', '-f');
  await d('image', 'prune', '-f');
}

async function main(): Promise<void> {
  const e = new DrydockEngine();
  const base = join('/tmp', `dd-memprobe-${process.pid}`);
  mkdirSync(base, { recursive: true });
  for (const s of SERVICES) mkdirSync(join(base, s), { recursive: true });
  process.env.DRYDOCK_NODE_FLAGS = `${process.env.DRYDOCK_NODE_FLAGS ?? SERVICE_NODE_FLAGS.join(' ')}${withSnapshots ? ' --heapsnapshot-signal=SIGUSR2' : ''}`;
  const reg = new PullRegistry(join(base, 'registry'));
  await reg.start();
  await e.start();
  try {
    const cfg = join(base, 'client');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), '{}\n');
    const tar = join(base, 'busybox.tar');
    await buildBusyboxRootfsTar(tar);
    await docker(e, cfg, ['import', '-c', 'CMD ["/bin/sh"]', tar, 'busybox:latest']);
    const procs = e.daemons().filter((p) => SERVICES.includes(p.role));
    // a snapshot lands in the service's cwd; snapshotFrom moves it under base/<role>
    const where = (p: EngineProcess) => `/proc/${p.pid}/cwd`;
    const settle = () => new Promise((r) => setTimeout(r, 5000));
    const line = (label: string) => process.stdout.write(`${label.padEnd(28)} ${procs.map((p) => `${p.role} ${rssMb(p.pid).toFixed(1)}`).join(', ')}\n`);
    line('rss at start');
    await load(e, cfg, reg, base, 0); // warm-up: code paths compiled, pools made
    line('rss after warm-up');
    await settle();
    line('rss warm-up + 5 s');
    const idle = Object.fromEntries(procs.map((p) => [p.role, rssMb(p.pid)]));
    const snaps: Record<string, string[]> = {};
    if (withSnapshots) for (const p of procs) snaps[p.role] = [await snapshotFrom(p, where(p), base, 'idle')];
    for (let r = 1; r <= rounds; r++) {
      process.stdout.write(`load round ${r}/${rounds}\n`);
      await load(e, cfg, reg, base, r);
      line(`rss after round ${r}`);
    }
    await settle();
    line('rss load + 5 s');
    const after = Object.fromEntries(procs.map((p) => [p.role, rssMb(p.pid)]));
    for (let i = 0; i < 3; i++) {
      await settle();
      line(`rss load + ${10 + i * 5} s`);
    }
    if (argv.includes('--collections')) {
      for (const r of ['supervisor', 'gateway', 'registry-proxy', 'builder'] as const) {
        const lines = readFileSync(e.logPath(r), 'utf8').split('\n').filter((l) => l.includes('idle collection'));
        console.log(`${r}: ${lines.length} idle collections${lines.length ? `, last: ${lines[lines.length - 1]}` : ''}`);
      }
    }
    // --hold S: the stack stays up S seconds more (to read /proc/<pid>/smaps and the like)
    const hold = Number(arg('hold', '0'));
    if (hold > 0) {
      console.log(`holding ${hold} s: ${procs.map((p) => `${p.role} pid ${p.pid}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, hold * 1000));
    }
    if (!withSnapshots) return;
    for (const p of procs) snaps[p.role].push(await snapshotFrom(p, where(p), base, 'after'));
    for (const p of procs) {
      console.log(`\n== ${p.role}: VmRSS idle ${idle[p.role].toFixed(1)} MB, after load ${after[p.role].toFixed(1)} MB (both before their snapshot)`);
      const [a, b] = snaps[p.role].map(summarize);
      const total = (m: Map<string, { size: number }>) => [...m.values()].reduce((s, x) => s + x.size, 0) / 1e6;
      console.log(`   heap (live objects) idle ${total(a).toFixed(2)} MB, after ${total(b).toFixed(2)} MB`);
      const diff = [...b.entries()].map(([k, v]) => ({ k, d: v.size - (a.get(k)?.size ?? 0), n: v.count - (a.get(k)?.count ?? 0) })).sort((x, y) => y.d - x.d).slice(0, 15);
      for (const x of diff) console.log(`   ${(x.d / 1e3).toFixed(1).padStart(9)} KB ${String(x.n).padStart(7)}  ${x.k}`);
    }
    console.log(`\nsnapshots under ${base}`);
  } finally {
    await e.stop();
    await reg.stop();
  }
}

/** The snapshot a service wrote into its cwd, moved to base/<role>/<label>.heapsnapshot. */
async function snapshotFrom(p: EngineProcess, cwd: string, base: string, label: string): Promise<string> {
  const before = new Set(readdirSync(cwd));
  process.kill(p.pid, 'SIGUSR2');
  for (let i = 0; i < 900; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const f = readdirSync(cwd).find((x) => !before.has(x) && x.endsWith('.heapsnapshot'));
    if (!f) continue;
    let size = -1;
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const s = readFileSync(join(cwd, f)).length;
      if (s === size && s > 0) break;
      size = s;
    }
    const to = join(base, p.role, `${label}.heapsnapshot`);
    writeFileSync(to, readFileSync(join(cwd, f)));
    rmSync(join(cwd, f));
    return to;
  }
  throw new Error(`${p.role}: no heap snapshot within 90 s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
