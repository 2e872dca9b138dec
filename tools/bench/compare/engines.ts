/**
 * The two engines the comparison drives with the same docker CLI: a private Docker Engine
 * (dockerd + its own containerd) and a private Drydock stack (containerd + NATS +
 * containerd-supervisor + api-gateway). Both live under /tmp directories of their own, log
 * at warn level, and are torn down completely (containers, shims, mounts, directories).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { ContainerdProcess, containerdPaths, dockerPingOk, freePort, requireCommand, tcpAccepts, waitFor } from '@drydock/infra';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS, serviceNodeFlags } from '@drydock/runtime';
import { buildDrydock, killShimsOf, makeTempDir, removeNetworkObjects, startTestInfra, unmountAllUnder, type TestInfra } from '@drydock/testing';
import { DockerNetworkHost, dockerProxiesOf, processesRunning } from './host-network';

// The tool runs bundled as dist/tools/bench/<tool>.js.
const repo = resolve(__dirname, '../../..');

/** The docker CLI both engines are driven with: /usr/local/bin/docker, else `docker` in PATH. */
export function findDockerCli(): string {
  const candidates = ['/usr/local/bin/docker', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'docker'))];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('the docker CLI is missing: install it with `bash tools/install/ensure-deps.sh --dockerd` (Debian package docker.io)');
  return found;
}


/** A process counted in an engine's resident memory. */
export interface EngineProcess {
  role: string;
  pid: number;
}

export interface Engine {
  readonly name: string;
  /** unix socket serving the Docker Engine API */
  readonly socket: string;
  start(): Promise<void>;
  /** Daemons: the engine's own processes plus its containerd (and NATS for Drydock). */
  daemons(): EngineProcess[];
  /** Per-container helpers: containerd shims, and Drydock's drydock-logger writers. */
  perContainer(): EngineProcess[];
  /** Idempotent. */
  stop(): Promise<void>;
}


function argvOf(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return []; // exited meanwhile
  }
}

/** containerd-shim-runc-v2 processes serving the containerd at `address` (matched on their -address). */
export function shimsOf(address: string): EngineProcess[] {
  const out: EngineProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = argvOf(entry);
    if (!argv[0]?.includes('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i >= 0 && argv[i + 1] === address) out.push({ role: 'shim', pid: Number(entry) });
  }
  return out;
}


async function terminate(child: ChildProcess | undefined, graceMs = 15000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

/**
 * Docker Engine 20.10 (Debian's docker.io) on private directories and socket, with its own
 * containerd: without --containerd dockerd would use (or start) the system one on
 * /run/containerd. Bridge networking as dockerd's defaults have it (iptables, masquerade,
 * docker-proxy), but on a private default bridge and address pool (DockerNetworkHost), whose
 * chains, rules and bridges are removed again at stop. Rows outside the network group run
 * with `--network none` on both engines.
 */
export class DockerEngine implements Engine {
  readonly name = 'Docker';
  dir = '';
  socket = '';
  readonly net = new DockerNetworkHost();
  private containerd?: ContainerdProcess;
  private dockerd?: ChildProcess;
  private stopping?: Promise<void>;
  /** What was in the host's /run/docker/plugins before dockerd (undefined: no such directory). */
  private pluginExecBefore?: Set<string>;
  private runDockerBefore = true;

  async start(): Promise<void> {
    const dockerdBin = requireCommand('dockerd', 'docker.io');
    this.pluginExecBefore = existsSync(DOCKERD_PLUGIN_EXEC_ROOT) ? new Set(readdirSync(DOCKERD_PLUGIN_EXEC_ROOT)) : undefined;
    this.runDockerBefore = existsSync(dirname(DOCKERD_PLUGIN_EXEC_ROOT));
    requireCommand('docker-proxy', 'docker.io');
    this.dir = await makeTempDir('bench-docker');
    // before dockerd: its chains must not exist yet, and the bridge must (--bridge names an existing one)
    this.net.prepare();
    this.socket = join(this.dir, 'docker.sock');
    this.containerd = new ContainerdProcess(containerdPaths(join(this.dir, 'ctd')), 'containerd', { dieWithParent: true });
    await this.containerd.start();
    // An empty daemon.json: a host /etc/docker/daemon.json must not change the setup.
    const config = join(this.dir, 'daemon.json');
    writeFileSync(config, '{}\n');
    const log = openSync(join(this.dir, 'dockerd.log'), 'a');
    const child = spawn(
      dockerdBin,
      [
        '--config-file', config,
        '--data-root', join(this.dir, 'docker'),
        '--exec-root', join(this.dir, 'exec'),
        '--pidfile', join(this.dir, 'docker.pid'),
        '-H', `unix://${this.socket}`,
        '--containerd', this.containerd.paths.address,
        ...this.net.dockerdFlags(),
        '--storage-driver', 'overlay2',
        '--log-level=warn',
      ],
      { stdio: ['ignore', log, log], env: { PATH: process.env.PATH } },
    );
    this.dockerd = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}:\n${this.logTail()}`);
      return dockerPingOk(this.socket);
    }, 60000, `dockerd on ${this.socket}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'dockerd.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Writes daemon.json and has dockerd reload it (SIGHUP; authorization-plugins is one of the settings it reloads). */
  reload(config: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'daemon.json'), `${JSON.stringify(config)}\n`);
    this.dockerd?.kill('SIGHUP');
  }

  /** Where dockerd keeps a managed plugin's rootfs. */
  pluginRootfs(id: string): string {
    return join(this.dir, 'docker', 'plugins', id, 'rootfs');
  }

  daemons(): EngineProcess[] {
    return [
      { role: 'dockerd', pid: this.dockerd?.pid ?? 0 },
      { role: 'containerd', pid: this.containerd?.pid ?? 0 },
    ].filter((p) => p.pid > 0);
  }

  /** dockerd's json-file log driver copies output inside dockerd itself: shims, and a docker-proxy per published port. */
  perContainer(): EngineProcess[] {
    return [...(this.containerd ? shimsOf(this.containerd.paths.address) : []), ...(this.dockerd?.pid ? dockerProxiesOf(this.dockerd.pid) : [])];
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.doStop());
  }

  /** Removes the empty per-plugin directories dockerd left under /run/docker/plugins, and the directory if it made it. */
  private cleanupPluginExecRoot(): void {
    const before = this.pluginExecBefore;
    for (const e of existsSync(DOCKERD_PLUGIN_EXEC_ROOT) ? readdirSync(DOCKERD_PLUGIN_EXEC_ROOT) : []) {
      if (before?.has(e)) continue;
      try {
        rmdirSync(join(DOCKERD_PLUGIN_EXEC_ROOT, e));
      } catch {
        // not an empty directory: not dockerd's leftover
      }
    }
    // and /run/docker itself when dockerd made it for this
    for (const d of [...(before ? [] : [DOCKERD_PLUGIN_EXEC_ROOT]), ...(this.runDockerBefore ? [] : [dirname(DOCKERD_PLUGIN_EXEC_ROOT)])]) {
      try {
        rmdirSync(d);
      } catch {
        // someone else's entries are in it
      }
    }
  }

  private async doStop(): Promise<void> {
    // dockerd stops its containers on SIGTERM (no live-restore); shims and proxies left behind are killed.
    const proxies = this.dockerd?.pid ? dockerProxiesOf(this.dockerd.pid) : [];
    await terminate(this.dockerd, 30000);
    for (const p of proxies) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone with dockerd
      }
    }
    await this.containerd?.stop();
    if (this.containerd) killShimsOf(this.containerd.paths.address);
    // dockerd never removes its chains and rules: the bench does, and restores FORWARD's policy
    this.net.cleanup();
    this.cleanupPluginExecRoot();
    if (!this.dir) return;
    unmountAllUnder(this.dir);
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * dockerd 20.10 keeps managed plugins' sockets under this fixed host directory whatever its --exec-root (socket
 * paths must stay under 108 bytes) and creates it at start; the bench removes what its dockerd added there.
 */
const DOCKERD_PLUGIN_EXEC_ROOT = '/run/docker/plugins';

/**
 * The Drydock stack as the e2e harness runs it (services bundled from the working tree,
 * private containerd + NATS from @drydock/testing), but at log level warn like dockerd and
 * with the flags tools/stack runs services with. The registry-proxy is the one pulls go
 * through; DRYDOCK_BENCH_LOG_LEVEL (e.g. debug) raises every service's level to time a pull.
 */
export class DrydockEngine implements Engine {
  readonly name = 'Drydock';
  socket = '';
  infra?: TestInfra;
  /** http://127.0.0.1:PORT of its registry-proxy (DRYDOCK_REGISTRY_PROXY_URL of the services). */
  registryProxyUrl = '';
  private logger = '';
  private dns = '';
  private stateDir = '';
  private supervisor?: ChildProcess;
  private gateway?: ChildProcess;
  private gatewayEnv: Record<string, string | undefined> = {};
  private registryProxy?: ChildProcess;
  private builder?: ChildProcess;
  private stopping?: Promise<void>;

  /** The builder's pid (its idle memory is a row of its own). */
  get builderPid(): number {
    return this.builder?.pid ?? 0;
  }

  async start(): Promise<void> {
    const infra = await startTestInfra({ containerd: true, nats: true, redis: true, redisPersistent: true, name: 'bench-dd' });
    this.infra = infra;
    const build = buildDrydock(join(infra.dir, 'build'));
    this.logger = build.logger;
    this.dns = build.dns;
    const stateDir = join(infra.dir, 'state');
    this.stateDir = stateDir;
    mkdirSync(stateDir, { recursive: true });
    this.socket = join(infra.dir, 'd.sock');
    const port = await freePort();
    const proxyPort = await freePort();
    this.registryProxyUrl = `http://127.0.0.1:${proxyPort}`;
    // DRYDOCK_NODE_FLAGS replaces the common flags (experiments); each service keeps its own
    const common = process.env.DRYDOCK_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? SERVICE_NODE_FLAGS;
    const nodeFlags = (app: string) => serviceNodeFlags(app, common);
    const env = {
      PATH: process.env.PATH,
      DRYDOCK_STATE_DIR: stateDir,
      DRYDOCK_NATS_URL: infra.nats!.url,
      DRYDOCK_LOG_LEVEL: process.env.DRYDOCK_BENCH_LOG_LEVEL ?? 'warn',
      DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
      DRYDOCK_REDIS_URL: infra.redis!.url,
      // plugins: private directories, not the host's /run/docker/plugins and /run/drydock/plugins
      DRYDOCK_PLUGIN_RUN_DIR: join(infra.dir, 'plugins-run'),
      DRYDOCK_PLUGIN_SOCKETS_DIR: join(infra.dir, 'plugins-sockets'),
      DRYDOCK_PLUGIN_SPECS_DIRS: join(infra.dir, 'plugins-specs'),
      ...SERVICE_MALLOC_ENV,
    };
    for (const d of ['plugins-run', 'plugins-sockets', 'plugins-specs']) mkdirSync(join(infra.dir, d), { recursive: true });
    this.registryProxy = spawn(process.execPath, [...nodeFlags('registry-proxy'), build.registryProxy], {
      env: { ...env, DRYDOCK_REGISTRY_PROXY_LISTEN: `127.0.0.1:${proxyPort}` },
      stdio: ['ignore', this.logFile('registry-proxy'), this.logFile('registry-proxy')],
    });
    const rp = this.registryProxy;
    await waitFor(async () => {
      if (rp.exitCode !== null) throw new Error(`registry-proxy exited with ${rp.exitCode}:\n${this.logTail('registry-proxy')}`);
      return tcpAccepts(proxyPort);
    }, 30000, 'registry-proxy port');
    this.supervisor = spawn(process.execPath, [...nodeFlags('containerd-supervisor'), build.supervisor], {
      env: { ...env, DRYDOCK_CONTAINERD_ADDRESS: infra.containerd!.address, DRYDOCK_SUPERVISOR_LISTEN: `127.0.0.1:${port}`, DRYDOCK_LOGGER_BINARY: build.logger, DRYDOCK_DNS_BINARY: build.dns, ...benchNetNames },
      stdio: ['ignore', this.logFile('supervisor'), this.logFile('supervisor')],
    });
    const sup = this.supervisor;
    await waitFor(async () => {
      if (sup.exitCode !== null) throw new Error(`supervisor exited with ${sup.exitCode}:\n${this.logTail('supervisor')}`);
      return tcpAccepts(port);
    }, 30000, 'supervisor gRPC port');
    this.gatewayEnv = { ...env, DRYDOCK_GATEWAY_SOCKET: this.socket, DRYDOCK_SUPERVISOR_ADDRESS: `127.0.0.1:${port}` };
    this.gatewayCommand = [...nodeFlags('api-gateway'), build.gateway];
    await this.startGateway({});
    this.builder = spawn(process.execPath, [...nodeFlags('builder'), build.builder], {
      env: { ...env, DRYDOCK_SUPERVISOR_ADDRESS: `127.0.0.1:${port}`, DRYDOCK_LOG_LEVEL: process.env.DRYDOCK_BENCH_LOG_LEVEL === 'debug' ? 'debug' : 'info' },
      stdio: ['ignore', this.logFile('builder'), this.logFile('builder')],
    });
    const bd = this.builder;
    await waitFor(async () => {
      if (bd.exitCode !== null) throw new Error(`builder exited with ${bd.exitCode}:\n${this.logTail('builder')}`);
      return this.logTail('builder', 100).includes('builder ready');
    }, 30000, 'builder ready');
  }

  private gatewayCommand: string[] = [];

  private async startGateway(extraEnv: Record<string, string>): Promise<void> {
    const gw = spawn(process.execPath, this.gatewayCommand, { env: { ...this.gatewayEnv, ...extraEnv }, stdio: ['ignore', this.logFile('gateway'), this.logFile('gateway')] });
    this.gateway = gw;
    await waitFor(async () => {
      if (gw.exitCode !== null) throw new Error(`gateway exited with ${gw.exitCode}:\n${this.logTail('gateway')}`);
      return dockerPingOk(this.socket);
    }, 30000, `gateway on ${this.socket}`).catch((err: Error) => {
      throw new Error(`${err.message}; gateway log:\n${this.logTail('gateway', 10)}`);
    });
  }

  /** Stops the gateway and starts it again with `extraEnv` on top of its settings (e.g. DRYDOCK_GATEWAY_AUTHZ_PLUGINS). */
  async restartGateway(extraEnv: Record<string, string> = {}): Promise<void> {
    await terminate(this.gateway);
    await this.startGateway(extraEnv);
  }

  /** Where the supervisor keeps a managed plugin's rootfs. */
  pluginRootfs(id: string): string {
    return join(this.stateDir, 'supervisor', 'plugins', id, 'rootfs');
  }

  private logFile(name: string): number {
    return openSync(join(this.infra!.dir, `${name}.log`), 'a');
  }

  /** Where each service writes its log (the pull breakdown reads them). */
  logPath(name: 'supervisor' | 'gateway' | 'registry-proxy' | 'builder'): string {
    return join(this.infra?.dir ?? '', `${name}.log`);
  }

  logTail(name: 'supervisor' | 'gateway' | 'registry-proxy' | 'builder', lines = 30): string {
    const f = this.logPath(name);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }

  daemons(): EngineProcess[] {
    return [
      { role: 'supervisor', pid: this.supervisor?.pid ?? 0 },
      { role: 'gateway', pid: this.gateway?.pid ?? 0 },
      { role: 'registry-proxy', pid: this.registryProxy?.pid ?? 0 },
      { role: 'builder', pid: this.builder?.pid ?? 0 },
      { role: 'redis', pid: this.infra?.redis?.pid ?? 0 },
      { role: 'containerd', pid: this.infra?.containerd?.process.pid ?? 0 },
      { role: 'nats', pid: this.infra?.nats?.pid ?? 0 },
    ].filter((p) => p.pid > 0);
  }

  /**
   * Shims, the detached drydock-logger of each container run (they own the log files), and the drydock-dns of each
   * container on a user-defined network (the embedded DNS is a process of its own, not part of a daemon).
   */
  perContainer(): EngineProcess[] {
    if (!this.infra?.containerd) return [];
    return [
      ...shimsOf(this.infra.containerd.address),
      ...(this.logger ? processesRunning(this.logger, 'logger') : []),
      ...(this.dns ? processesRunning(this.dns, 'drydock-dns') : []),
    ];
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.doStop());
  }

  private async doStop(): Promise<void> {
    await terminate(this.gateway);
    await terminate(this.builder);
    await terminate(this.supervisor);
    await terminate(this.registryProxy);
    // before the state directory goes (its network records name the portmap rules): containerd's deletes run no CNI DEL
    if (this.stateDir) removeNetworkObjects({ stateDir: this.stateDir, bridgePrefix: benchNetNames.DRYDOCK_BRIDGE_PREFIX.slice(0, -1), chainPrefix: benchNetNames.DRYDOCK_IPTABLES_CHAIN_PREFIX });
    // deletes every container, kills leftover shims, unmounts and removes the directory
    await this.infra?.stop();
    for (const bin of [this.logger, this.dns]) if (bin) for (const p of processesRunning(bin, 'leftover')) process.kill(p.pid, 'SIGKILL');
  }
}

/**
 * The compare stack's own default bridge, bridge prefix, chains and pool (a supervisor removes unrecorded bridges under
 * its names), apart from supervisor-bench's ddbench0 and the private dockerd's 10.171/10.173: both names start with
 * `ddcmp`, so one prefix removes them all at the end.
 */
const benchNetNames = { DRYDOCK_BRIDGE_NAME: 'ddcmp0', DRYDOCK_BRIDGE_PREFIX: 'ddcmp-', DRYDOCK_IPTABLES_CHAIN_PREFIX: 'DDCMP', DRYDOCK_NETWORK_POOLS: '10.172.0.0/16:24' };

/** Versions of the pieces both engines stand on, for the report header. */
export function versionOf(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}
