// The local stack behind `npm start`: containerd, nats-server and redis-server with
// their data under DRYDOCK_STATE_DIR, and every built app, each under a watchdog
// that restarts it, with its output prefixed by its name. SIGINT/SIGTERM stop what
// the stack started, apps first and containerd last; containers keep running in
// their shims and the next start adopts them.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  containerdCommand,
  containerdPaths,
  natsServerCommand,
  redisServerCommand,
  requireCommand,
  tcpAccepts,
  unixSocketAnswers,
  waitFor,
  Watchdog,
  writeContainerdConfig,
  type CommandSpec,
  type WatchdogOptions,
} from '@drydock/infra';
import { LinePrefixer } from './line-prefix';
import { PidRecords } from './pid-records';
import { SERVICE_MALLOC_ENV, serviceNodeFlags } from '@drydock/runtime';
import { loadStackConfig, registryProxyEnv, serviceEnv, type StackConfig } from './stack-config';


// The bundle lives at dist/tools/stack/stack.js.
const repoRoot = resolve(__dirname, '../../..');
const READY_TIMEOUT_MS = 60000;

/** Short names for prefixes; other apps go by their directory name. */
const SHORT_NAMES: Record<string, string> = { 'containerd-supervisor': 'supervisor', 'api-gateway': 'gateway' };

const say = new LinePrefixer('[stack] ', (t) => process.stdout.write(t));
const log = (line: string) => say.push(line + '\n');

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });
}

/** A watchdog whose child runs in its own process group with prefixed output and a pid record. */
function supervised(name: string, command: () => CommandSpec, records: PidRecords, extra: Partial<WatchdogOptions> = {}): Watchdog {
  return new Watchdog({
    name,
    log,
    ...extra,
    spawn: () => {
      const spec = command();
      const child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], env: spec.env, cwd: spec.cwd, detached: true });
      const out = new LinePrefixer(`[${name}] `, (t) => process.stdout.write(t));
      const err = new LinePrefixer(`[${name}] `, (t) => process.stderr.write(t));
      child.stdout!.on('data', (d: Buffer) => out.push(d)).on('end', () => out.flush());
      child.stderr!.on('data', (d: Buffer) => err.push(d)).on('end', () => err.flush());
      child.once('exit', () => records.forget(name));
      if (child.pid) records.record(name, child.pid);
      return child;
    },
  });
}

function builtApps(selected?: string[]): { all: string[]; built: string[] } {
  const appsDir = join(repoRoot, 'apps');
  const all = existsSync(appsDir) ? readdirSync(appsDir).filter((n) => statSync(join(appsDir, n)).isDirectory()).sort() : [];
  const unknown = selected?.filter((a) => !all.includes(a)) ?? [];
  if (unknown.length) throw new Error(`DRYDOCK_STACK_APPS names no app directory: ${unknown.join(', ')}`);
  const built = all.filter((a) => existsSync(join(repoRoot, 'dist/apps', a, 'main.js')));
  return { all, built: selected ? built.filter((a) => selected.includes(a)) : built };
}

async function main(): Promise<void> {
  const config: StackConfig = loadStackConfig(process.env);
  if (process.getuid?.() !== 0) throw new Error('the stack runs containerd and must run as root');
  // Fail on a missing program now, not in a restart loop.
  requireCommand('runc', 'runc');
  requireCommand('containerd-shim-runc-v2', 'containerd');
  const node = process.execPath;

  for (const d of [config.stateDir, config.natsDir, config.redisDir, config.runDir]) mkdirSync(d, { recursive: true });
  const records = new PidRecords(config.runDir);
  const { all, built } = builtApps(config.apps);
  const appNames = built.map((a) => SHORT_NAMES[a] ?? a);

  // A stack that was SIGKILLed leaves its children behind; containerd is adopted instead.
  for (const name of ['nats', 'redis', ...appNames]) {
    const pid = await records.stopLeftover(name);
    if (pid) log(`stopped ${name} (pid ${pid}) left running by a previous stack`);
  }
  for (const [what, port, variable] of [['NATS', config.natsPort, 'DRYDOCK_NATS_PORT'], ['Redis', config.redisPort, 'DRYDOCK_REDIS_PORT']] as const) {
    if (await tcpAccepts(port)) throw new Error(`port ${port} for ${what} is taken by another process (a system service?); set ${variable}`);
  }

  log(`state dir ${config.stateDir}`);
  const skipped = (a: string) => (config.apps && !config.apps.includes(a) ? `${a} (not selected)` : `${a} (not built)`);
  log(all.length ? `apps found: ${all.map((a) => (built.includes(a) ? a : skipped(a))).join(', ')}` : 'no apps found');
  if (!built.length) log('no app to run: running the infrastructure only');

  const paths = { ...containerdPaths(config.containerdDir), address: config.containerdAddress };
  writeContainerdConfig(paths);
  const containerd = supervised('containerd', () => containerdCommand(paths), records, {
    // A containerd that survived an earlier stack (or runs for someone else) keeps
    // serving the socket: use it, and start ours only once it stops answering.
    beforeSpawn: async (signal) => {
      if (!(await unixSocketAnswers(paths.address))) return;
      process.stdout.write(`[containerd] a running containerd already serves ${paths.address}: using it\n`);
      while (!signal.aborted && (await unixSocketAnswers(paths.address))) await sleep(1000, signal);
      if (!signal.aborted) process.stdout.write('[containerd] it stopped answering: starting containerd\n');
    },
  });
  const nats = supervised('nats', () => natsServerCommand({ storeDir: config.natsDir, port: config.natsPort }), records);
  const redis = supervised('redis', () => redisServerCommand({ dir: config.redisDir, port: config.redisPort, persistent: true }), records);
  const infra = [containerd, nats, redis];

  const loggerBinary = join(repoRoot, 'dist/native/drydock-logger');
  const env = { ...process.env, ...SERVICE_MALLOC_ENV, ...serviceEnv(config, loggerBinary, join(repoRoot, 'dist/native/drydock-dns')) };
  const apps = built.map((app, i) =>
    supervised(
      appNames[i],
      () => ({ command: node, args: [...serviceNodeFlags(app), join(repoRoot, 'dist/apps', app, 'main.js')], env: app === 'registry-proxy' ? { ...env, ...registryProxyEnv(config) } : env, cwd: repoRoot }),
      records,
    ),
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: NodeJS.Signals, code: number) => {
    if (stopping) {
      // A second Ctrl-C: no more waiting. Shims (and so containers) are not our children and live on.
      log(`${signal} again: killing what the stack started`);
      for (const w of [...apps, ...infra]) w.kill('SIGKILL');
      return;
    }
    log(`${signal}: stopping services, then nats and redis, then containerd (containers keep running)`);
    stopping = (async () => {
      // Clients of the supervisor (the gateway, ...) first, then the supervisor.
      const sup = apps[built.indexOf('containerd-supervisor')];
      await Promise.all(apps.filter((w) => w !== sup).map((w) => w.stop('SIGTERM')));
      if (sup) await sup.stop('SIGTERM');
      await Promise.all([nats.stop('SIGTERM'), redis.stop('SIGTERM')]);
      await containerd.stop('SIGTERM');
      // An adopted containerd that an earlier (SIGKILLed) stack started is ours to stop too.
      if (containerd.spawnCount === 0) {
        const pid = await records.stopLeftover('containerd');
        if (pid) log(`stopped containerd (pid ${pid}) that a previous stack started`);
      }
      log('stopped');
      process.exit(code);
    })();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig, 0));

  for (const w of infra) w.start();
  try {
    await Promise.all([
      waitFor(() => unixSocketAnswers(paths.address), READY_TIMEOUT_MS, `containerd on ${paths.address}`),
      waitFor(() => tcpAccepts(config.natsPort), READY_TIMEOUT_MS, `nats on port ${config.natsPort}`),
      waitFor(() => tcpAccepts(config.redisPort), READY_TIMEOUT_MS, `redis on port ${config.redisPort}`),
    ]);
  } catch (err) {
    log(`${(err as Error).message}; see the output above`);
    shutdown('SIGTERM', 1);
    return;
  }
  if (stopping) return;
  log(`containerd ${paths.address}`);
  log(`NATS ${env.DRYDOCK_NATS_URL}, Redis ${env.DRYDOCK_REDIS_URL}`);
  // The supervisor first: the gateway (and any other app) calls it from its first request.
  // Not answering in time is logged, not fatal: the watchdog keeps restarting it and
  // clients retry, so the rest of the stack still comes up.
  const supervisor = apps[built.indexOf('containerd-supervisor')];
  if (supervisor) {
    supervisor.start();
    const port = Number(config.supervisorAddress.slice(config.supervisorAddress.lastIndexOf(':') + 1));
    const host = config.supervisorAddress.slice(0, config.supervisorAddress.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    await waitFor(() => tcpAccepts(port, host), READY_TIMEOUT_MS, `supervisor on ${config.supervisorAddress}`).catch((err: Error) => log(`${err.message}; starting the other apps anyway`));
    if (stopping) return;
    log(`supervisor gRPC ${config.supervisorListen}`);
  }
  for (const w of apps) if (w !== supervisor) w.start();
  log(`running ${['containerd', 'nats', 'redis', ...appNames].join(', ')}; Ctrl-C stops them (containers keep running)`);
  if (built.includes('scheduler')) log(`scheduler gRPC ${config.schedulerListen}`);
  if (built.includes('registry-proxy')) log(`registry http://${config.registryProxyListen} (storage ${config.registryDir})`);
  if (built.includes('api-gateway')) {
    // Printed once the socket answers, so that copying the line gives a working CLI.
    waitFor(() => unixSocketAnswers(config.gatewaySocket), READY_TIMEOUT_MS, `the gateway on ${config.gatewaySocket}`).then(
      () => stopping || log(`docker CLI: export DOCKER_HOST=unix://${config.gatewaySocket}`),
      (err: Error) => stopping || log(`${err.message}; see [gateway] above`),
    );
  }
}

main().catch((err: Error) => {
  log(`cannot start: ${err.message}`);
  process.exit(1);
});
