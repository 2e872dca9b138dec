// The local stack behind `npm start`: containerd, nats-server and redis-server with
// their data under DRYDOCK_STATE_DIR, and every built app, each under a watchdog
// that restarts it, with its output prefixed by its name. SIGINT/SIGTERM stop what
// the stack started, apps first and containerd last; containers keep running in
// their shims and the next start adopts them.
import { mkdirSync } from 'node:fs';
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
  writeContainerdConfig,
} from '@drydock/infra';
import { LinePrefixer } from './line-prefix';
import { PidRecords } from './pid-records';
import { SERVICE_MALLOC_ENV, serviceNodeFlags } from '@drydock/runtime';
import { loadStackConfig, registryProxyEnv, serviceEnv, type StackConfig } from './stack-config';
import { adoptRunningContainerd, builtApps, SHORT_NAMES, supervised as supervise } from './supervised';

// The bundle lives at dist/tools/stack/stack.js.
const repoRoot = resolve(__dirname, '../../..');
const READY_TIMEOUT_MS = 60000;

const say = new LinePrefixer('[stack] ', (t) => process.stdout.write(t));
const log = (line: string) => say.push(line + '\n');

async function main(): Promise<void> {
  const config: StackConfig = loadStackConfig(process.env);
  if (process.getuid?.() !== 0) throw new Error('the stack runs containerd and must run as root');
  // Fail on a missing program now, not in a restart loop.
  requireCommand('runc', 'runc');
  requireCommand('containerd-shim-runc-v2', 'containerd');
  const node = process.execPath;

  for (const d of [config.stateDir, config.natsDir, config.redisDir, config.runDir]) mkdirSync(d, { recursive: true });
  const records = new PidRecords(config.runDir);
  const { all, built } = builtApps(repoRoot, config.apps);
  const supervised = (name: string, command: Parameters<typeof supervise>[1], extra?: Parameters<typeof supervise>[2]) => supervise({ name, records, log }, command, extra);
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
  const containerd = supervised('containerd', () => containerdCommand(paths), { beforeSpawn: adoptRunningContainerd(paths.address, 'containerd') });
  const nats = supervised('nats', () => natsServerCommand({ storeDir: config.natsDir, port: config.natsPort }));
  const redis = supervised('redis', () => redisServerCommand({ dir: config.redisDir, port: config.redisPort, persistent: true }));
  const infra = [containerd, nats, redis];

  const loggerBinary = join(repoRoot, 'dist/native/drydock-logger');
  const env = { ...process.env, ...SERVICE_MALLOC_ENV, ...serviceEnv(config, loggerBinary, join(repoRoot, 'dist/native/drydock-dns')) };
  const apps = built.map((app, i) =>
    supervised(
      appNames[i],
      () => ({ command: node, args: [...serviceNodeFlags(app), join(repoRoot, 'dist/apps', app, 'main.js')], env: app === 'registry-proxy' ? { ...env, ...registryProxyEnv(config) } : env, cwd: repoRoot }),
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
