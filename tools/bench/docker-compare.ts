/**
 * Drydock against Docker Engine, side by side, in one run. Starts a private Docker Engine
 * (dockerd 20.10 + its own containerd) and a private Drydock stack, imports the same busybox
 * rootfs into both as busybox:latest, and drives both with the same real docker CLI, one
 * engine after the other for every sample (A B A B ...), so drift of the machine hits both.
 * Prints a table per workload (median, min, max, Drydock/Docker) and writes results.md,
 * chart.svg and results.json under bench-results/<timestamp>/. Numbers are never asserted.
 *
 *   npm run bench                   # full run
 *   npm run bench -- --smoke        # every workload once at tiny sizes (npm test)
 *   npm run bench -- --runs 20 --parallel 20 --containers 100 --logs-mb 50 --out dir
 *   npm run bench -- --pull-mb 100 --pull-runs 5 --pull-concurrency 10
 *   npm run bench -- --only pull    # just the registry pulls (or: containers, logs, build, network, plugins)
 *   npm run bench -- --only network --net-mb 1000 --net-transfers 3 --net-ops 10
 *   npm run bench -- --only plugins --plugin-runs 20 --authz-runs 40
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { buildBusyboxRootfsTar } from '@drydock/testing';
import { DockerEngine, DrydockEngine, findDockerCli, versionOf, type Engine, type EngineProcess } from './compare/engines';
import { cpuSeconds, getsPerBlob, pullMilestones, PullRegistry, threeLayers, upstreamWindow, type PushedImage } from './compare/pull';
import { networkWorkloads } from './compare/network';
import { pluginWorkloads } from './compare/plugins';
import { markdownTable, stats, svgChart, terminalTable, type Row } from './compare/report';

const repo = resolve(__dirname, '../../..');
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const opt = (name: string, full: number, tiny: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : smoke ? tiny : full;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a non-negative number`);
  return v;
};
const cfg = {
  warmups: opt('warmups', 3, 0),
  runs: opt('runs', 20, 1),
  parallel: opt('parallel', 20, 2),
  parallelRounds: opt('parallel-rounds', 3, 1),
  containers: opt('containers', 100, 3),
  queries: opt('queries', 10, 1),
  execs: opt('execs', 20, 1),
  logsBytes: Math.round(opt('logs-mb', 50, 0.0625) * 1024 * 1024),
  logsRuns: opt('logs-runs', 3, 1),
  // ~100 MB in three layers (50/30/20); smoke: 300 KB
  pullBytes: Math.round(opt('pull-mb', 100, 0.3) * 1e6),
  pullRuns: opt('pull-runs', 5, 1),
  pullConcurrency: opt('pull-concurrency', 10, 3),
  pullConcurrentRounds: opt('pull-concurrent-rounds', 3, 1),
  buildRuns: opt('build-runs', 5, 1),
  // MB each of the three RUN steps of the cold build writes; smoke: 1
  buildMb: opt('build-mb', 30, 1),
  buildFiles: opt('build-files', 2000, 20),
  stageSleepS: opt('stage-sleep', 2, 0.2),
  // network group: create+rm pairs, bytes through a published port (1 GB; smoke 8 MB), ports, containers
  netOps: opt('net-ops', 10, 1),
  netBytes: Math.round(opt('net-mb', 1000, 8) * 1e6),
  netTransfers: opt('net-transfers', 3, 1),
  netPorts: opt('net-ports', 5, 2),
  netContainers: opt('net-containers', 10, 2),
  // plugins group: volume create -d + run -v + volume rm samples; `ps` samples with and without the authz plugin
  pluginRuns: opt('plugin-runs', 20, 1),
  authzRuns: opt('authz-runs', 40, 1),
};
// Workload groups: containers (run, memory, parallel, N containers), logs, pull, build, network (bridge, ports),
// plugins (a managed volume plugin, an authorization plugin, memory per plugin).
const onlyArg = argv.indexOf('--only') >= 0 ? argv[argv.indexOf('--only') + 1].split(',') : undefined;
const want = (group: 'containers' | 'logs' | 'pull' | 'build' | 'network' | 'plugins') => !onlyArg || onlyArg.includes(group);
const outArg = argv.indexOf('--out') >= 0 ? argv[argv.indexOf('--out') + 1] : '';
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = resolve(repo, outArg || join('bench-results', smoke ? `smoke-${stamp}` : stamp));
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;

const dockerBin = findDockerCli();
const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

interface TimedLine {
  ms: number;
  line: string;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  bytes: number;
}

/**
 * Runs the docker CLI against `engine`; stdout is discarded (as `> /dev/null`) unless kept,
 * or unless `lines` collects each stdout line with when it arrived (ms since the start).
 */
function docker(engine: Engine, args: string[], opts: { keep?: boolean; count?: boolean; timeoutMs?: number; lines?: TimedLine[] } = {}): Promise<CliRun> {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(dockerBin, args, {
      env: { PATH: process.env.PATH, HOME: configDir, DOCKER_CONFIG: configDir, DOCKER_HOST: `unix://${engine.socket}`, DOCKER_CLI_HINTS: 'false' },
      stdio: ['ignore', opts.keep || opts.count || opts.lines ? 'pipe' : 'ignore', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let bytes = 0;
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => {
      bytes += d.length;
      if (opts.keep) stdout += d.toString();
      if (opts.lines) {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const parts = (partial + d.toString()).split('\n');
        partial = parts.pop()!;
        for (const line of parts) opts.lines.push({ ms, line });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) rej(new Error(`${engine.name}: docker ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-400)}`));
      else res({ code, stdout, stderr, ms, bytes });
    });
  });
}

let configDir = '';
const progress = (s: string) => process.stdout.write(`\r\x1b[K${s}`);
const done = () => process.stdout.write('\n');

/** n rounds of fn on each engine in turn (Drydock, Docker, Drydock, Docker, ...). */
async function alternate(label: string, engines: Engine[], n: number, fn: (e: Engine, i: number) => Promise<number>): Promise<Map<Engine, number[]>> {
  const out = new Map<Engine, number[]>(engines.map((e) => [e, []]));
  for (let i = 0; i < n; i++) {
    for (const e of engines) {
      progress(`${label}: ${e.name} ${i + 1}/${n}`);
      out.get(e)!.push(await fn(e, i));
    }
  }
  if (n > 0) done();
  return out;
}

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  }));
}

function rssMb(procs: EngineProcess[]): number {
  let kb = 0;
  for (const p of procs) {
    try {
      const line = readFileSync(`/proc/${p.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
      kb += Number(line?.split(/\s+/)[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

async function removeAll(e: Engine): Promise<void> {
  const ids = (await docker(e, ['ps', '-aq'], { keep: true })).stdout.split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 25) await docker(e, ['rm', '-f', ...ids.slice(i, i + 25)]);
}

function machine(docker: DockerEngine): Record<string, string> {
  const osRelease = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'unknown';
  const env = { ...process.env, DOCKER_HOST: `unix://${docker.socket}`, DOCKER_CONFIG: configDir };
  let server = 'unknown';
  try {
    server = execFileSync(dockerBin, ['version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  return {
    CPU: cpus()[0]?.model ?? 'unknown',
    cores: String(cpus().length),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    distro: osRelease,
    Node: process.version,
    'docker CLI': `${versionOf(dockerBin, ['--version'])} (${dockerBin})`,
    dockerd: `${versionOf('dockerd', ['--version'])} (API server ${server})`,
    containerd: versionOf('containerd', ['--version']),
    runc: versionOf('runc', ['--version']),
  };
}

/** Bare `runc run true` on the same rootfs: what starting a container costs with no engine at all. */
function runcFloor(dir: string, tar: string, n: number): number[] {
  const bundle = join(dir, 'runc-bundle');
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  execFileSync('tar', ['-xf', tar, '-C', join(bundle, 'rootfs')]);
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const out: number[] = [];
  for (let i = 0; i < n + 1; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync('runc', ['--root', join(dir, 'runc-root'), 'run', `bench${i}`], { cwd: bundle, stdio: 'ignore' });
    if (i > 0) out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

interface ProcessMemory {
  engine: string;
  role: string;
  pid: number;
  idleMb: number;
  afterMb?: number;
}

/** Drydock's services are held to < 60 MB idle and <= 10 % above it after the load; the rest is for comparison. */
const SERVICE_ROLES = ['supervisor', 'gateway', 'registry-proxy', 'builder'];

function processMemoryTable(procs: ProcessMemory[], style: 'markdown' | 'terminal'): string {
  const t = [['engine', 'process', 'idle MB', 'after load MB', 'growth', 'target']];
  for (const p of procs) {
    const growth = p.afterMb === undefined ? 'not measured' : `${(((p.afterMb - p.idleMb) / p.idleMb) * 100).toFixed(0)} %`;
    const target = p.engine === 'Drydock' && SERVICE_ROLES.includes(p.role) ? 'idle < 60 MB, growth <= 10 %' : '';
    t.push([p.engine, p.role, p.idleMb.toFixed(1), p.afterMb?.toFixed(1) ?? '', growth, target]);
  }
  if (style === 'markdown') return [t[0], t[0].map(() => '---'), ...t.slice(1)].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const w = t[0].map((_, i) => Math.max(...t.map((r) => r[i].length)));
  return t.map((r) => r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ')).join('\n');
}

type Workload = (name: string, unit: string, fn: () => Promise<Omit<Row, 'workload' | 'unit'>>) => Promise<void>;

/** Per-pull details for results.json: upstream GETs per blob, timings, the Drydock breakdown. */
const pullDetails: Record<string, unknown>[] = [];

const sizeLabel = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(0)} MB` : `${(bytes / 1e3).toFixed(0)} KB`);

const med = (xs: (number | undefined)[]) => stats(xs.filter((x): x is number => x !== undefined))?.median;
const secs = (x: number | undefined) => (x === undefined ? '?' : `${x.toFixed(2)} s`);

/** Per engine, medians over the `kind` pulls: when upstream went quiet, downloads ended, extraction ended; CPU per process. */
function breakdown(kind: string, engines: Engine[]): string[] {
  return engines.map((e) => {
    type Profiled = { engine: string; kind: string; seconds: number; upstream?: { lastEndS: number }; milestones: ReturnType<typeof pullMilestones>; cpuSeconds: Record<string, number> };
    const cold = pullDetails.filter((d) => d.kind === kind && d.engine === e.name) as unknown as Profiled[];
    const roles = [...new Set(cold.flatMap((c) => Object.keys(c.cpuSeconds)))];
    const cpu = roles.map((r) => `${r} ${med(cold.map((c) => c.cpuSeconds[r]))?.toFixed(2)} s`).join(', ');
    return (
      `${e.name} ${kind} pull, medians of ${cold.length}: upstream blob GETs done at ${secs(med(cold.map((c) => c.upstream?.lastEndS)))}, ` +
      `last "Download complete" at ${secs(med(cold.map((c) => c.milestones.downloadsDoneS)))}, last "Pull complete" at ${secs(med(cold.map((c) => c.milestones.extractedS)))}, ` +
      `CLI done at ${secs(med(cold.map((c) => c.seconds)))}; CPU during the pull: ${cpu}`
    );
  });
}

/**
 * Registry pulls with the real `docker pull` against a private docker-registry on 127.0.0.1
 * (plain HTTP for both: dockerd treats 127.0.0.0/8 as insecure, and so does the registry-proxy).
 * Every timed pull is of an image never pulled before, so it is cold for Docker's store and
 * for Drydock's node and proxy cache alike; the pulled image id is checked (untimed) so a pull
 * that fetched less cannot flatter an engine, and it is removed again (untimed).
 */
async function pullWorkloads(dd: DrydockEngine, dk: DockerEngine, engines: Engine[], rows: Row[], workload: Workload, notes: string[]): Promise<void> {
  const reg = new PullRegistry(join(dk.dir, 'pull'));
  await reg.start();
  const sizes = threeLayers(cfg.pullBytes);
  const label = `${sizeLabel(cfg.pullBytes)} 3-layer (${sizes.map(sizeLabel).join(' + ')})`;
  const pull = async (e: Engine, img: PushedImage): Promise<number> => (await docker(e, ['pull', img.ref], { timeoutMs: 600000 })).ms / 1000;
  const settle = async (e: Engine, img: PushedImage): Promise<void> => {
    const id = (await docker(e, ['image', 'inspect', '-f', '{{.Id}}', img.ref], { keep: true })).stdout.trim();
    if (id !== img.image.configDigest) throw new Error(`${e.name}: pulled ${img.ref} has id ${id}, expected ${img.image.configDigest}`);
    await docker(e, ['rmi', img.ref]);
  };
  /** Upstream GETs of one timed pull (or concurrent batch) that started at startMs and took `seconds`. */
  const record = (kind: string, e: Engine, img: PushedImage, seconds: number, since: number, startMs: number, extra: Record<string, unknown> = {}) => {
    const gets = reg.blobGets(since);
    const blobs = getsPerBlob(img, gets);
    pullDetails.push({ kind, engine: e.name, ref: img.ref, seconds, blobs, upstream: upstreamWindow(gets, startMs), ...extra });
    return blobs;
  };
  /** A pull with its status lines timed and the CPU each daemon spent on it: where the time goes. */
  const profiledPull = async (e: Engine, img: PushedImage) => {
    const lines: { ms: number; line: string }[] = [];
    const cpu0 = cpuSeconds(e.daemons());
    const r = await docker(e, ['pull', img.ref], { timeoutMs: 600000, lines });
    const cpu1 = cpuSeconds(e.daemons());
    const cpu = Object.fromEntries(Object.keys(cpu1).map((k) => [k, Number((cpu1[k] - (cpu0[k] ?? 0)).toFixed(2))]));
    return { seconds: r.ms / 1000, profile: { milestones: pullMilestones(lines), cpuSeconds: cpu } };
  };
  try {
    await workload(`\`pull\` of a new ${label} image from a local registry, cold`, 's', async () => {
      const images: PushedImage[] = [];
      const m = await alternate('pull cold', engines, cfg.pullRuns, async (e, i) => {
        images[i] ??= await reg.fresh(`pull-${i}`, sizes);
        const since = reg.mark();
        const startMs = Date.now();
        const { seconds, profile } = await profiledPull(e, images[i]);
        record('cold', e, images[i], seconds, since, startMs, profile);
        await settle(e, images[i]);
        return seconds;
      });
      notes.push(...breakdown('cold', engines));
      return { drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!), target: 'Drydock <= Docker' };
    });

    await workload(`\`pull\` of that ${sizeLabel(cfg.pullBytes)} image, in Drydock's proxy cache but not on the node`, 's', async () => {
      const img = await reg.fresh('pull-warm', sizes);
      await pull(dd, img);
      await settle(dd, img);
      const xs: number[] = [];
      for (let i = 0; i < cfg.pullRuns; i++) {
        progress(`pull, proxy cache warm: Drydock ${i + 1}/${cfg.pullRuns}`);
        const since = reg.mark();
        const startMs = Date.now();
        const { seconds, profile } = await profiledPull(dd, img);
        xs.push(seconds);
        const refetched = record('warm', dd, img, seconds, since, startMs, profile).filter((b) => b.gets > 0);
        if (refetched.length) notes.push(`warm pull ${i + 1} fetched ${refetched.length} blob(s) upstream again: ${refetched.map((b) => `${b.digest.slice(7, 19)} x${b.gets}`).join(', ')}`);
        await settle(dd, img);
      }
      done();
      notes.push(...breakdown('warm', [dd]));
      return { drydock: stats(xs), target: 'no Docker counterpart (dockerd has no pull-through cache)' };
    });

    const n = cfg.pullConcurrency;
    const perBlob = new Map<Engine, number[]>(engines.map((e) => [e, []]));
    await workload(`${n} concurrent \`pull\` of one new ${sizeLabel(cfg.pullBytes)} image`, 's', async () => {
      const m = await alternate(`${n} concurrent pulls`, engines, cfg.pullConcurrentRounds, async (e, round) => {
        const img = await reg.fresh(`pull-many-${round}-${e.name.toLowerCase()}`, sizes);
        const since = reg.mark();
        const startMs = Date.now();
        const t0 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: n }, () => pull(e, img)));
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const blobs = record(`${n} concurrent`, e, img, s, since, startMs);
        perBlob.get(e)!.push(...blobs.map((b) => b.gets));
        notes.push(`${e.name}, ${n} concurrent pulls (round ${round + 1}): upstream GETs per blob ${blobs.every((b) => b.gets === 1) ? '1 per blob' : blobs.map((b) => `${b.digest.slice(7, 19)}: ${b.gets}`).join(', ')}`);
        await settle(e, img);
        return s;
      });
      return { drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!), target: 'Drydock <= Docker' };
    });
    if (perBlob.get(dd)!.length) {
      rows.push({
        workload: `upstream GETs per blob in those ${n} concurrent pulls (config + layers, every round)`,
        unit: 'GETs',
        drydock: stats(perBlob.get(dd)!),
        docker: stats(perBlob.get(dk)!),
        target: 'Drydock: exactly 1 per blob',
      });
    }
  } finally {
    await reg.stop();
  }
}

/**
 * docker build with the legacy builder on both (the CLI without buildx, DOCKER_BUILDKIT=0), step
 * containers without network (networking has rows of its own). Cold builds use --no-cache.
 */
async function buildWorkloads(dd: DrydockEngine, dk: DockerEngine, engines: Engine[], workload: Workload): Promise<void> {
  const both = (m: Map<Engine, number[]>) => ({ drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!) });
  const base = join(dk.dir, 'build-contexts');
  const ctx = (name: string, files: Record<string, string>) => {
    const d = join(base, name);
    mkdirSync(d, { recursive: true });
    for (const [f, c] of Object.entries(files)) {
      mkdirSync(join(d, f, '..'), { recursive: true });
      writeFileSync(join(d, f), c);
    }
    return d;
  };
  const build = async (e: Engine, args: string[]) => (await docker(e, ['build', '--network', 'none', ...args], { timeoutMs: 600000 })).ms / 1000;
  const runs = ['RUN dd if=/dev/urandom of=/a bs=1M count={MB} 2>/dev/null', 'RUN dd if=/dev/urandom of=/b bs=1M count={MB} 2>/dev/null', 'RUN dd if=/dev/urandom of=/c bs=1M count={MB} 2>/dev/null'].map((r) => r.replace('{MB}', String(cfg.buildMb)));
  const cold = ctx('cold', { Dockerfile: ['FROM busybox', 'ENV A=1', runs[0], 'LABEL l=1', runs[1], 'WORKDIR /w', runs[2], 'CMD ["sh"]', ''].join('\n') });
  await workload(`\`build\` cold: 3 RUN steps writing ${cfg.buildMb} MB each + 4 metadata steps (--no-cache)`, 's', async () => {
    const m = await alternate('build cold', engines, cfg.buildRuns, async (e) => build(e, ['--no-cache', '-t', 'bench/cold', cold]));
    done();
    return { ...both(m), target: 'Drydock <= Docker' };
  });
  await workload('`build` of the same Dockerfile, fully cached', 's', async () => {
    for (const e of engines) await build(e, ['-t', 'bench/cold', cold]);
    const m = await alternate('build cached', engines, cfg.buildRuns, async (e) => build(e, ['-t', 'bench/cold', cold]));
    done();
    return { ...both(m), target: 'Drydock <= Docker' };
  });
  const sleep = cfg.stageSleepS;
  const stages = ctx('stages', {
    Dockerfile: [1, 2, 3].flatMap((i) => [`FROM busybox AS s${i}`, `RUN sleep ${sleep} && echo ${i} > /out${i}`]).concat(['FROM busybox', 'COPY --from=s1 /out1 /', 'COPY --from=s2 /out2 /', 'COPY --from=s3 /out3 /', '']).join('\n'),
  });
  await workload(`\`build\` of 4 stages, the first 3 independent (each sleeps ${sleep} s), the 4th copying from each (--no-cache)`, 's', async () => {
    const m = await alternate('build stages', engines, cfg.buildRuns, async (e) => build(e, ['--no-cache', '-t', 'bench/stages', stages]));
    done();
    return { ...both(m), target: 'Drydock <= 0.5x Docker' };
  });
  const files: Record<string, string> = { Dockerfile: 'FROM busybox\nCOPY files /files\n' };
  for (let i = 0; i < cfg.buildFiles; i++) files[`files/d${i % 20}/f${i}.txt`] = `file ${i}\n`;
  const many = ctx('files', files);
  await workload(`\`build\` copying a context of ${cfg.buildFiles} small files (--no-cache)`, 's', async () => {
    const m = await alternate('build files', engines, cfg.buildRuns, async (e) => build(e, ['--no-cache', '-t', 'bench/files', many]));
    done();
    return { ...both(m), target: 'Drydock <= Docker' };
  });
  // idle: quiet for 5 s, as the per-process table measures after the load (the services collect once quiet)
  await new Promise((r) => setTimeout(r, 5000));
  await workload('builder idle resident memory (5 s after the builds)', 'MB', async () => {
    const mb = rssMb([{ role: 'builder', pid: dd.builderPid }]);
    return { drydock: stats([mb])!, target: 'Drydock < 60 MB' };
  });
  for (const e of engines) await removeAll(e);
}

async function main(): Promise<void> {
  const dd = new DrydockEngine();
  const dk = new DockerEngine();
  const engines: Engine[] = [dd, dk];
  const rows: Row[] = [];
  const failures: string[] = [];
  const memoryNotes: string[] = [];
  /** Each daemon's resident memory idle (after the warm-up runs) and once all the load workloads are over. */
  const perProcess: ProcessMemory[] = [];
  const pullNotes: string[] = [];
  const networkNotes: string[] = [];
  const pluginNotes: string[] = [];
  let info: Record<string, string> = {};
  const stopAll = () => Promise.allSettled(engines.map((e) => e.stop()));
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  /** A workload that fails on either engine becomes a "not measured" row; the run exits 1. */
  const workload = async (name: string, unit: string, fn: () => Promise<Omit<Row, 'workload' | 'unit'>>) => {
    try {
      rows.push({ workload: name, unit, ...(await fn()) });
    } catch (err) {
      done();
      const msg = (err as Error).message.split('\n')[0];
      failures.push(`${name}: ${msg}`);
      rows.push({ workload: name, unit, notMeasured: `failed: ${msg}` });
      console.error(`workload failed: ${name}: ${(err as Error).message}`);
      await Promise.allSettled(engines.map(removeAll));
    }
  };
  const both = (m: Map<Engine, number[]>) => ({ drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!) });

  try {
    progress('starting Docker Engine and the Drydock stack');
    await Promise.all([dd.start(), dk.start()]);
    done();
    configDir = join(dk.dir, 'client');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'config.json'), '{}\n');
    info = machine(dk);
    const tar = join(dk.dir, 'busybox.tar');
    await buildBusyboxRootfsTar(tar);
    for (const e of engines) await docker(e, ['import', tar, 'busybox:latest']);

    if (want('containers')) {
      const run = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
      await workload('`run --rm --network none busybox true`', 'ms', async () => {
        await alternate('warm-up', engines, cfg.warmups, async (e) => (await docker(e, run)).ms);
        const m = await alternate('run --rm true', engines, cfg.runs, async (e) => (await docker(e, run)).ms);
        const floor = stats(runcFloor(dk.dir, tar, Math.max(cfg.runs, 1)));
        return { ...both(m), floor: floor && { label: 'bare `runc run true`, no engine', stats: floor }, target: 'Drydock <= 0.75x Docker' };
      });

      // Idle: no containers, after the run workload has warmed both engines up; 2 s to settle.
      await new Promise((r) => setTimeout(r, 2000));
      await workload('resident memory, idle (daemons + containerd, no containers)', 'MB', async () => {
        const m = await alternate('memory idle', engines, 1, async (e) => rssMb([...e.daemons(), ...e.perContainer()]));
        return { ...both(m), target: 'Drydock <= 2x Docker' };
      });
      for (const e of engines) for (const p of e.daemons()) perProcess.push({ engine: e.name, role: p.role, pid: p.pid, idleMb: rssMb([p]) });

      await workload(`${cfg.parallel} parallel \`run -d busybox sleep 600\``, 'containers/s', async () => {
        const m = await alternate('parallel run -d', engines, cfg.parallelRounds, async (e, round) => {
          const t0 = process.hrtime.bigint();
          await Promise.all(Array.from({ length: cfg.parallel }, (_, i) => docker(e, ['run', '-d', '--network', 'none', '--name', `par-${round}-${i}`, 'busybox', 'sleep', '600'])));
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          await removeAll(e);
          return cfg.parallel / s;
        });
        return { ...both(m), higherIsBetter: true, target: 'Drydock >= Docker' };
      });

      const n = cfg.containers;
      await workload(`${n} containers running (\`sleep 600\`)`, 'setup', async () => {
        for (const e of engines) {
          await pool(Array.from({ length: n }, (_, i) => i), 10, async (i) => {
            await docker(e, ['run', '-d', '--network', 'none', '--name', `c${i}`, 'busybox', 'sleep', '600']);
            progress(`creating ${n} containers: ${e.name} c${i}`);
          });
        }
        done();
        return { notMeasured: 'setup for the rows below' };
      });
      rows.pop(); // the setup row only reports a failure
      if (!failures.some((f) => f.includes('containers running'))) {
        await new Promise((r) => setTimeout(r, 2000));
        await workload(`resident memory, ${n} containers running (daemons + containerd + per-container processes)`, 'MB', async () => {
          const m = await alternate('memory loaded', engines, 1, async (e) => {
            const per = e.perContainer();
            memoryNotes.push(`${e.name} with ${n} containers: ${e.daemons().map((p) => p.role).join(' + ')} (${rssMb(e.daemons()).toFixed(1)} MB) + ${per.length} per-container processes (${[...new Set(per.map((p) => p.role))].join(', ') || 'none'}; ${rssMb(per).toFixed(1)} MB)`);
            return rssMb([...e.daemons(), ...per]);
          });
          return both(m);
        });
        await workload(`\`ps -a\` with ${n} containers`, 'ms', async () => {
          const m = await alternate('ps -a', engines, cfg.queries, async (e) => (await docker(e, ['ps', '-a'])).ms);
          return { ...both(m), target: 'Drydock <= Docker' };
        });
        await workload('`inspect <name>`', 'ms', async () => {
          const name = `c${Math.floor(n / 2)}`;
          return both(await alternate('inspect', engines, cfg.queries, async (e) => (await docker(e, ['inspect', name])).ms));
        });
        await workload('`exec <name> true`', 'ms', async () => {
          return both(await alternate('exec true', engines, cfg.execs, async (e) => (await docker(e, ['exec', 'c0', 'true'])).ms));
        });
      }
      progress('removing containers');
      for (const e of engines) await removeAll(e);
      done();
    }

    const mb = cfg.logsBytes / 2 ** 20;
    if (want('logs')) await workload(`\`logs\` of a container that printed ${mb >= 1 ? `${mb.toFixed(0)} MB` : `${(cfg.logsBytes / 1024).toFixed(0)} KB`}`, 'ms', async () => {
      for (const e of engines) {
        progress(`logs: ${e.name} writing ${cfg.logsBytes} bytes`);
        await docker(e, ['run', '-d', '--network', 'none', '--name', 'logs', 'busybox', 'sh', '-c', `yes ${LINE} | head -c ${cfg.logsBytes}`]);
        await docker(e, ['wait', 'logs'], { timeoutMs: 300000 });
        // A fast `logs` that printed less would flatter an engine: check the size once, untimed.
        const got = (await docker(e, ['logs', 'logs'], { count: true, timeoutMs: 300000 })).bytes;
        if (got !== cfg.logsBytes) throw new Error(`${e.name}: docker logs printed ${got} bytes, expected ${cfg.logsBytes}`);
      }
      done();
      const m = await alternate('logs > /dev/null', engines, cfg.logsRuns, async (e) => (await docker(e, ['logs', 'logs'], { timeoutMs: 300000 })).ms);
      for (const e of engines) await removeAll(e);
      return both(m);
    });

    if (want('pull')) await pullWorkloads(dd, dk, engines, rows, workload, pullNotes);
    if (want('build')) await buildWorkloads(dd, dk, engines, workload);
    if (want('network')) {
      await networkWorkloads({ drydock: dd, docker: dk, engines, cfg, run: docker, alternate, workload, rssMb, removeAll, notes: networkNotes });
    }
    // After every load workload: nothing runs, the engines have had a few seconds to settle.
    if (perProcess.length) {
      for (const e of engines) await removeAll(e);
      await new Promise((r) => setTimeout(r, 5000));
      for (const p of perProcess) p.afterMb = rssMb([p]);
    }
    // Last: its authorization rows restart Drydock's gateway (a new pid), which the per-process table must not see.
    if (want('plugins')) {
      await pluginWorkloads({ drydock: dd, docker: dk, engines, cfg, run: docker, alternate, workload, rssMb, notes: pluginNotes });
    }
  } finally {
    progress('stopping both engines');
    const stopped = await stopAll();
    done();
    for (const s of stopped) if (s.status === 'rejected') failures.push(`teardown: ${(s.reason as Error).message}`);
  }

  const header = Object.entries(info).map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const memoryCounted = [
    'Memory is the sum of VmRSS (/proc/<pid>/status) of the engine\'s processes, container processes themselves excluded.',
    'Drydock: containerd-supervisor + api-gateway + registry-proxy + builder + Redis (the build queue) + its containerd + NATS; with containers: + containerd-shim-runc-v2 + drydock-logger per container, + drydock-dns (the embedded DNS) per container on a user-defined network.',
    'Docker: dockerd + its containerd; with containers: + containerd-shim-runc-v2 per container (dockerd\'s json-file driver writes logs inside dockerd, its embedded DNS is in dockerd too), + docker-proxy per published port.',
    'Idle counts the same sets with no container present (no shims or loggers exist then).',
  ];
  const md = [
    `# Drydock vs Docker Engine (${smoke ? 'smoke run, numbers meaningless' : new Date().toISOString()})`,
    '',
    header,
    '',
    `Command: \`${command}\``,
    '',
    'Each sample is one docker CLI invocation (wall time, CLI start-up included), the engines taking turns',
    '(Drydock, Docker, Drydock, ...). Containers run with `--network none` on both engines, except in the network rows:',
    'there both engines have bridge networking with iptables (Docker: its defaults, docker-proxy on, default bridge ddbdock0',
    'on 10.171.0.0/16, user networks from 10.173.0.0/16; Drydock: default bridge ddcmp0, pool 10.172.0.0/16).',
    '',
    markdownTable(rows),
    '',
    ...memoryCounted.map((l) => `- ${l}`),
    ...memoryNotes.map((l) => `- ${l}`),
    '',
    '## Resident memory per process: idle, and after the load workloads',
    '',
    processMemoryTable(perProcess, 'markdown'),
    '',
    ...pullNotes.map((l) => `- ${l}`),
    '',
    ...networkNotes.map((l) => `- ${l}`),
    '',
    ...pluginNotes.map((l) => `- ${l}`),
    '',
  ].join('\n');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.md'), md);
  writeFileSync(join(outDir, 'chart.svg'), svgChart(rows, `Drydock vs Docker Engine, medians (${info.CPU ?? ''}, ${info.cores ?? '?'} cores)`));
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ command, config: cfg, machine: info, rows, memoryNotes, processMemory: perProcess, pull: pullDetails, network: networkNotes, plugins: pluginNotes, failures }, null, 2));

  console.log();
  console.log(header);
  console.log();
  console.log(terminalTable(rows));
  console.log();
  for (const l of [...memoryCounted, ...memoryNotes, '']) console.log(l);
  if (perProcess.length) console.log(`Resident memory per process, idle and after the load workloads:\n${processMemoryTable(perProcess, 'terminal')}\n`);
  for (const l of [...pullNotes, ...networkNotes, ...pluginNotes]) console.log(l);
  console.log(`\nwritten: ${join(outDir, 'results.md')}, chart.svg, results.json`);
  if (failures.length) {
    console.error(`\n${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
