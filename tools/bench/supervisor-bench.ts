/**
 * containerd-supervisor benchmark: create + start + wait + remove of `true`
 * through the supervisor's gRPC API (median of N after warm-up), bare
 * `runc run` of the same rootfs as the floor, and the supervisor's idle
 * resident memory. Starts its own private containerd and NATS; prints a table
 * and writes JSON when asked.
 *
 *   npm run bench:supervisor -- [--runs 20] [--json out.json]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ctrContainers, ctrTasks, supervisorV1 } from '@drydock/proto';
import { freePort, tcpAccepts, waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, startTestInfra } from '@drydock/testing';

const repo = resolve(__dirname, '../../..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const runs = Number(opt('runs', '20'));
const jsonOut = opt('json', '');

type Cb<T> = (err: ServiceError | null, res: T) => void;
function call<Req, Res>(client: object, method: (req: Req, cb: Cb<Res>) => unknown, req: Req): Promise<Res> {
  return new Promise((res, rej) => method.call(client, req, (err: ServiceError | null, r: Res) => (err ? rej(err) : res(r))));
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: m, min: s[0], max: s[s.length - 1] };
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const main = join(repo, 'dist/apps/containerd-supervisor/main.js');
  const logger = join(repo, 'dist/native/drydock-logger');
  execFileSync('node', [join(repo, 'tools/build/build.mjs'), 'containerd-supervisor'], { stdio: 'inherit' });
  const infra = await startTestInfra({ containerd: true, nats: true, name: 'bench' });
  const port = await freePort();
  // the flags the stack runs services with (tools/stack/stack.ts), unless overridden
  const nodeFlags = (process.env.DRYDOCK_NODE_FLAGS ?? '--max-semi-space-size=1').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, main], {
    env: {
      PATH: process.env.PATH,
      DRYDOCK_STATE_DIR: join(infra.dir, 'state'),
      DRYDOCK_CONTAINERD_ADDRESS: infra.containerd!.address,
      DRYDOCK_NATS_URL: infra.nats!.url,
      DRYDOCK_SUPERVISOR_LISTEN: `127.0.0.1:${port}`,
      DRYDOCK_LOGGER_BINARY: logger,
      DRYDOCK_DNS_BINARY: join(repo, 'dist/native/drydock-dns'),
      DRYDOCK_LOG_LEVEL: 'warn',
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitFor(() => tcpAccepts(port), 30000, 'supervisor');
    const target = `127.0.0.1:${port}`;
    const containers = new supervisorV1.ContainersClient(target, credentials.createInsecure());
    const images = new supervisorV1.ImagesClient(target, credentials.createInsecure());
    const tar = join(infra.dir, 'busybox.tar');
    await buildBusyboxRootfsTar(tar);
    await new Promise<void>((res, rej) => {
      const s = images.importImage((err) => (err ? rej(err) : res()));
      s.write({ header: { repository: 'busybox', tag: 'latest', changes: [] } });
      const rs = createReadStream(tar);
      rs.on('data', (c) => s.write({ chunk: c as Buffer }));
      rs.on('end', () => s.end());
    });

    const phases: Record<string, number[]> = { create: [], start: [], exit: [], remove: [] };
    const since = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
    const once = async (): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const { id } = await call<supervisorV1.CreateContainerRequest, supervisorV1.CreateContainerResponse>(containers, containers.createContainer, { config: { image: 'busybox', cmd: { values: ['true'] } } });
      if (!id) throw new Error('no id');
      phases.create.push(since(t0));
      let tStart = 0n;
      let tStarted = 0n;
      const exited = new Promise<number>((res, rej) => {
        const w = containers.waitContainer({ id, condition: supervisorV1.WaitCondition.WAIT_CONDITION_NEXT_EXIT });
        w.on('data', (m: supervisorV1.WaitContainerResponse) => {
          if (m.phase === supervisorV1.WaitPhase.WAIT_PHASE_REGISTERED) {
            tStart = process.hrtime.bigint();
            call(containers, containers.startContainer, { id }).then(() => {
              tStarted = process.hrtime.bigint();
              phases.start.push(since(tStart));
            }, rej);
          } else if (m.phase === supervisorV1.WaitPhase.WAIT_PHASE_EXITED) {
            phases.exit.push(since(tStarted || tStart));
            res(m.statusCode ?? -1);
          }
        });
        w.on('error', rej);
      });
      const code = await exited;
      if (code !== 0) throw new Error(`true exited ${code}`);
      const tr = process.hrtime.bigint();
      await call(containers, containers.removeContainer, { id });
      phases.remove.push(since(tr));
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    for (let i = 0; i < 3; i++) await once();
    const lat: number[] = [];
    for (let i = 0; i < runs; i++) {
      lat.push(await once());
      process.stdout.write(`\rcreate+start+wait+remove ${i + 1}/${runs}`);
    }
    process.stdout.write('\n');

    // bare runc: the floor (same rootfs, no containerd)
    const bundle = join(infra.dir, 'runc-bundle');
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    execFileSync('tar', ['-xf', tar, '-C', join(bundle, 'rootfs')]);
    execFileSync('runc', ['spec', '--rootless=false'], { cwd: bundle });
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['true'];
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const runcRoot = join(infra.dir, 'runc-root');
    const floor: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const t0 = process.hrtime.bigint();
      execFileSync('runc', ['--root', runcRoot, 'run', `bench${i}`], { cwd: bundle, stdio: 'ignore' });
      if (i >= 3) floor.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    // containerd called directly (no supervisor): the same create, start, wait, delete calls on a
    // bind-mounted copy of the rootfs, with no stdio. The floor the supervisor adds to.
    const direct = await containerdDirect(infra.containerd!.address, bundle, spec, runs);

    await new Promise((r) => setTimeout(r, 3000));
    const idle = rssMb(child.pid!);
    const l = stats(lat);
    const f = stats(floor);
    const rows = [
      ['workload', 'median ms', 'min ms', 'max ms', 'target'],
      [`supervisor create+start+wait+remove of true (n=${runs})`, l.median.toFixed(1), l.min.toFixed(1), l.max.toFixed(1), '<= 60'],
      [`containerd direct create+start+wait+delete (n=${runs})`, stats(direct).median.toFixed(1), stats(direct).min.toFixed(1), stats(direct).max.toFixed(1), 'floor'],
      [`bare runc run true (n=${runs})`, f.median.toFixed(1), f.min.toFixed(1), f.max.toFixed(1), 'floor'],
      ['supervisor idle RSS (MB)', idle.toFixed(1), '', '', '< 80'],
    ];
    for (const [k, v] of Object.entries(phases)) rows.push([`  phase ${k}`, stats(v.slice(3)).median.toFixed(1), '', '', '']);
    for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(52) : c.padStart(10))).join(' '));
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ runs, latencyMs: l, runcMs: f, containerdMs: stats(direct), idleRssMb: idle, samples: lat }, null, 2));
    containers.close();
    images.close();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await infra.stop();
  }
}

async function containerdDirect(address: string, bundle: string, runcSpec: { root: object; linux?: { namespaces?: object[] } }, n: number): Promise<number[]> {
  const md = new Metadata();
  md.set('containerd-namespace', 'bench-direct');
  const opts = { 'grpc.default_authority': 'localhost' };
  const target = `unix://${address}`;
  const cs = new ctrContainers.ContainersClient(target, credentials.createInsecure(), opts);
  const ts = new ctrTasks.TasksClient(target, credentials.createInsecure(), opts);
  const u = <Req, Res>(c: object, m: (r: Req, md: Metadata, cb: Cb<Res>) => unknown, r: Req) =>
    new Promise<Res>((res, rej) => m.call(c, r, md, (e: ServiceError | null, x: Res) => (e ? rej(e) : res(x))));
  const spec = { ...runcSpec, root: { path: 'rootfs', readonly: true } };
  const out: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const id = `direct${i}`;
    const t0 = process.hrtime.bigint();
    await u(cs, cs.create, { container: { id, runtime: { name: 'io.containerd.runc.v2' }, spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from(JSON.stringify(spec)) } } });
    await u(ts, ts.create, { containerId: id, rootfs: [{ type: 'bind', source: join(bundle, 'rootfs'), options: ['rbind', 'ro'] }] });
    const waited = u(ts, ts.wait, { containerId: id });
    await u(ts, ts.start, { containerId: id });
    await waited;
    await u(ts, ts.delete, { containerId: id });
    await u(cs, cs.delete, { id });
    if (i >= 3) out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  cs.close();
  ts.close();
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
