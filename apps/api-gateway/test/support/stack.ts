// End-to-end harness: a private containerd + NATS + docker-registry (via @drydock/testing), the
// supervisor, the registry-proxy and the gateway as separate processes built from the current
// sources, a busybox:latest image, and the REAL docker CLI pointed at the gateway's socket.
// One instance per test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { constants } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { dockerPingOk, freePort, tcpAccepts, waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, buildDrydock, removeNetworkObjects, startTestInfra, type DrydockBuild, type TestInfra } from '@drydock/testing';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS, serviceNodeFlags } from '@drydock/runtime';

const repo = resolve(__dirname, '../../../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The CLI was killed because it outlived timeoutMs. */
  timedOut: boolean;
}

export interface CliOptions {
  /** Written to the CLI's stdin, then stdin is closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  env?: Record<string, string>;
  /** The CLI gets SIGTERM after this, SIGKILL 2 s later (`timeout -k 2`); default 30 s. */
  timeoutMs?: number;
}

/** A long-running CLI process (logs -f, events, attach) with its output so far. */
export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the result when the CLI exits (or is killed after timeoutMs). */
  done: Promise<CliResult>;
  kill: (signal?: NodeJS.Signals) => void;
}

/** The docker CLI to drive: /usr/local/bin/docker, else `docker` in PATH. Throws when absent. */
export function findDockerCli(): string {
  const candidates = ['/usr/local/bin/docker', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'docker'))];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error('the docker CLI is missing: end-to-end tests drive the real CLI. Install it with `source tools/install/ensure-deps.sh && ensure_docker_cli` (Debian package docker.io)');
  }
  return found;
}




export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Raw HTTP over the gateway socket (for malformed requests the CLI never sends). */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class DockerStack {
  infra!: TestInfra;
  /** DOCKER_HOST=unix://<socket>; well under the 108-byte limit (infra dirs are /tmp/<short>). */
  socket = '';
  supervisorPort = 0;
  /** The registry-proxy's port on 127.0.0.1 (DRYDOCK_REGISTRY_PROXY_URL of the services). */
  registryProxyPort = 0;
  images!: supervisorV1.ImagesClient;
  readonly dockerBin = findDockerCli();
  private build!: DrydockBuild;
  private supervisor?: ChildProcess;
  private gateway?: ChildProcess;
  private registryProxy?: ChildProcess;
  private builder?: ChildProcess;
  private stateDir = '';
  private dockerConfig = '';
  private readonly clis = new Set<ChildProcess>();

  async setup(name = 'e2e'): Promise<void> {
    this.infra = await startTestInfra({ containerd: true, nats: true, redis: true, redisPersistent: true, registry: true, name });
    this.build = buildDrydock(join(this.infra.dir, 'build'));
    this.stateDir = join(this.infra.dir, 'state');
    this.socket = join(this.infra.dir, 'd.sock');
    if (Buffer.byteLength(this.socket) >= 108) throw new Error(`gateway socket path ${this.socket} is too long for a unix socket`);
    // A private, empty client config: no user config, credentials or contexts are read.
    this.dockerConfig = join(this.infra.dir, 'docker-config');
    mkdirSync(this.dockerConfig, { recursive: true });
    writeFileSync(join(this.dockerConfig, 'config.json'), '{}\n');
    this.supervisorPort = await freePort();
    this.registryProxyPort = await freePort();
    await this.startRegistryProxy();
    await this.startSupervisor();
    await this.startGateway();
    await this.startBuilder();
    this.images = new supervisorV1.ImagesClient(`127.0.0.1:${this.supervisorPort}`, credentials.createInsecure());
    await this.importBusybox();
  }

  private logFile(name: string): number {
    return openSync(join(this.infra.dir, `${name}.log`), 'a');
  }

  /** Last lines of a service's log, for failure messages. */
  logTail(name: 'supervisor' | 'gateway' | 'registry-proxy' | 'builder', lines = 30): string {
    try {
      return readFileSync(join(this.infra.dir, `${name}.log`), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Supervisor environment that overrides the harness's (e.g. a DRYDOCK_REGISTRY_PROXY_URL in front of the proxy); set before setup(). */
  supervisorEnv: Record<string, string> = {};

  /**
   * This stack's host bridges and iptables chains: a supervisor removes the bridges and chains under its names that
   * it has no record of, so stacks of their own names never touch a running `npm start` or each other.
   */
  readonly netNames = ((hex) => ({
    DRYDOCK_BRIDGE_NAME: `de${hex}0`,
    DRYDOCK_BRIDGE_PREFIX: `de${hex}-`,
    DRYDOCK_OVERLAY_BRIDGE_PREFIX: `de${hex}o`,
    DRYDOCK_IPTABLES_CHAIN_PREFIX: `DE${hex.toUpperCase()}`,
    // a pool of its own: dockerd's default pools are the host's (and npm start's), and few
    DRYDOCK_NETWORK_POOLS: `10.${150 + randomInt(20)}.0.0/16:24`,
  }))(randomBytes(2).toString('hex'));

  async startSupervisor(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.supervisor], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_CONTAINERD_ADDRESS: this.infra.containerd!.address,
        DRYDOCK_NATS_URL: this.infra.nats!.url,
        DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
        DRYDOCK_SUPERVISOR_LISTEN: `127.0.0.1:${this.supervisorPort}`,
        DRYDOCK_LOGGER_BINARY: this.build.logger,
        DRYDOCK_DNS_BINARY: this.build.dns,
        DRYDOCK_LOG_LEVEL: 'debug',
        ...this.netNames,
        ...this.supervisorEnv,
      },
      stdio: ['ignore', this.logFile('supervisor'), this.logFile('supervisor')],
    });
    this.supervisor = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`supervisor exited with ${child.exitCode}:\n${this.logTail('supervisor')}`);
      return tcpAccepts(this.supervisorPort);
    }, 30000, 'supervisor gRPC port');
  }

  /** Extra gateway environment (e.g. TCP + TLS listeners); set before setup(). */
  gatewayEnv: Record<string, string> = {};

  async startGateway(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.gateway], {
      env: {
        ...SERVICE_MALLOC_ENV,
        ...this.gatewayEnv,
        PATH: process.env.PATH,
        DRYDOCK_GATEWAY_SOCKET: this.socket,
        DRYDOCK_SUPERVISOR_ADDRESS: `127.0.0.1:${this.supervisorPort}`,
        DRYDOCK_NATS_URL: this.infra.nats!.url,
        DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_REDIS_URL: this.infra.redis!.url,
        DRYDOCK_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', this.logFile('gateway'), this.logFile('gateway')],
    });
    this.gateway = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${this.logTail('gateway')}`);
      return dockerPingOk(this.socket);
    }, 30000, `gateway on ${this.socket}`);
  }

  /** Extra builder environment (lock durations of the resilience tests); set before setup() or a restart. */
  builderEnv: Record<string, string> = {};

  /** The builder (BullMQ worker); it logs "builder ready" once it takes jobs. */
  async startBuilder(): Promise<void> {
    const logName = 'builder';
    const child = spawn(process.execPath, [...serviceNodeFlags('builder'), this.build.builder], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_REDIS_URL: this.infra.redis!.url,
        DRYDOCK_SUPERVISOR_ADDRESS: `127.0.0.1:${this.supervisorPort}`,
        DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
        DRYDOCK_LOG_LEVEL: 'debug',
        ...this.builderEnv,
      },
      stdio: ['ignore', this.logFile(logName), this.logFile(logName)],
    });
    this.builder = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`builder exited with ${child.exitCode}:\n${this.logTail('builder')}`);
      return this.logTail('builder', 200).includes('builder ready');
    }, 30000, 'builder ready');
  }

  get builderPid(): number | undefined {
    return this.builder?.pid;
  }

  /** SIGKILLs the builder, like a crash (mid-RUN, say); resolves once it is gone. */
  async killBuilder(): Promise<void> {
    const c = this.builder;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  /** SIGKILLs the supervisor (containers keep running in their shims). */
  async killSupervisor(): Promise<void> {
    const c = this.supervisor;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  get registryProxyUrl(): string {
    return `http://127.0.0.1:${this.registryProxyPort}`;
  }

  /** host:port of the upstream docker-registry (anonymous), as it appears in image references. */
  get registry(): string {
    return this.infra.registry!.host;
  }

  /** Extra registry-proxy environment (mirrors, cache limit, ...); set before setup() or a restart. */
  registryProxyEnv: Record<string, string> = {};

  /** The registry-proxy on its fixed port with a private store that survives restarts (like the stack's). */
  async startRegistryProxy(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.registryProxy], {
      env: {
        ...SERVICE_MALLOC_ENV,
        ...this.registryProxyEnv,
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_REGISTRY_PROXY_LISTEN: `127.0.0.1:${this.registryProxyPort}`,
        DRYDOCK_REGISTRY_PROXY_DIR: join(this.infra.dir, 'registry-proxy'),
        DRYDOCK_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', this.logFile('registry-proxy'), this.logFile('registry-proxy')],
    });
    this.registryProxy = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`registry-proxy exited with ${child.exitCode}:\n${this.logTail('registry-proxy')}`);
      return tcpAccepts(this.registryProxyPort);
    }, 30000, 'registry-proxy port');
  }

  get registryProxyPid(): number | undefined {
    return this.registryProxy?.pid;
  }

  /** SIGKILLs the registry-proxy, like a crash (mid-pull, say); resolves once it is gone. */
  async killRegistryProxy(): Promise<void> {
    const c = this.registryProxy;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  /** SIGKILL, then a fresh registry-proxy on the same port and store. */
  async restartRegistryProxy(): Promise<void> {
    await this.killRegistryProxy();
    await this.startRegistryProxy();
  }

  get gatewayPid(): number | undefined {
    return this.gateway?.pid;
  }

  /** SIGKILLs the gateway, like a crash; resolves once it is gone. */
  async killGateway(): Promise<void> {
    const c = this.gateway;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  /** SIGKILL, then a fresh gateway process on the same socket (the stale socket file stays behind, as after a crash). */
  async restartGateway(): Promise<void> {
    await this.killGateway();
    await this.startGateway();
  }

  async importBusybox(repository = 'busybox', tag = 'latest'): Promise<string> {
    const tar = join(this.infra.dir, 'busybox.tar');
    if (!existsSync(tar)) await buildBusyboxRootfsTar(tar);
    return new Promise((res, rej) => {
      const stream = this.images.importImage((err, r) => (err ? rej(err) : res(r.id ?? '')));
      stream.write({ header: { repository, tag, changes: ['CMD ["/bin/sh"]'], message: '', platform: '' } });
      const rs = createReadStream(tar, { highWaterMark: 256 * 1024 });
      rs.on('data', (chunk) => stream.write({ chunk: chunk as Buffer }));
      rs.on('end', () => stream.end());
      rs.on('error', rej);
    });
  }

  /** Path of the busybox rootfs tar (for `docker import`). */
  busyboxTar(): string {
    return join(this.infra.dir, 'busybox.tar');
  }

  /** A fresh directory under the infra dir (host side of bind mounts, cp targets, ...). */
  dir(name: string): string {
    const d = join(this.infra.dir, 'work', name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: this.dockerConfig,
      DOCKER_HOST: `unix://${this.socket}`,
      DOCKER_CONFIG: this.dockerConfig,
      // no "What's next" hints or context lookups from the CLI
      DOCKER_CLI_HINTS: 'false',
      LANG: 'C.UTF-8',
      ...extra,
    };
  }

  /** Starts `docker args...` (or, with `shell`, `sh -c shell`) in its own process group. */
  spawnCli(args: string[], opts: CliOptions & { shell?: string } = {}): CliProcess {
    const [cmd, argv] = opts.shell !== undefined ? ['/bin/sh', ['-c', opts.shell]] : [this.dockerBin, args];
    const child = spawn(cmd, argv, { env: this.cliEnv(opts.env), stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    this.clis.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    let timedOut = false;
    const timeoutMs = opts.timeoutMs ?? 30000;
    // timeout -k 2: TERM first (the CLI proxies it to the container), KILL if it lingers.
    const term = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
    }, timeoutMs);
    const kill = setTimeout(() => killGroup('SIGKILL'), timeoutMs + 2000);
    const done = new Promise<CliResult>((res) => {
      child.once('close', (code, signal) => {
        clearTimeout(term);
        clearTimeout(kill);
        this.clis.delete(child);
        res({ code: code ?? (signal ? 128 + constants.signals[signal] : null), stdout: out, stderr: err, timedOut });
      });
    });
    return { child, stdout: () => out, stderr: () => err, done, kill: (s = 'SIGKILL') => killGroup(s) };
  }

  /** Runs the real docker CLI against the gateway. */
  docker(args: string[], opts: CliOptions = {}): Promise<CliResult> {
    return this.spawnCli(args, opts).done;
  }

  /** Runs the CLI under `script` so that it has a pty (for -t). */
  dockerTty(args: string[], opts: CliOptions = {}): Promise<CliResult> {
    const quoted = [this.dockerBin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    return this.spawnCli([], { ...opts, shell: `exec script -qec ${JSON.stringify(quoted)} /dev/null` }).done;
  }

  /** Raw HTTP request over the gateway's unix socket. */
  raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<RawResponse> {
    return new Promise((res, rej) => {
      const req = request({ socketPath: this.socket, method, path, headers: body !== undefined ? { 'Content-Type': 'application/json', ...headers } : headers, timeout: 10000 }, (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: text }));
      });
      req.on('error', rej);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.end(body);
    });
  }

  async teardown(): Promise<void> {
    for (const c of this.clis) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.images?.close();
    if (process.env.DRYDOCK_KEEP_TEST_INFRA) {
      // eslint-disable-next-line no-console
      console.log(`test infrastructure kept in ${this.infra?.dir}`);
      return;
    }
    await this.killGateway();
    await this.killBuilder();
    await this.killRegistryProxy();
    const s = this.supervisor;
    if (s && s.exitCode === null && s.signalCode === null) {
      const gone = new Promise((r) => s.once('exit', r));
      s.kill('SIGKILL');
      await gone;
    }
    // before the state directory goes: its network records name the portmap rules to remove
    if (this.stateDir) removeNetworkObjects({ stateDir: this.stateDir, bridgePrefix: this.netNames.DRYDOCK_BRIDGE_NAME.slice(0, -1), chainPrefix: this.netNames.DRYDOCK_IPTABLES_CHAIN_PREFIX });
    await this.infra?.stop();
  }
}

/** beforeAll/afterAll wiring for a test file: one stack shared by its cases. */
export function useDockerStack(name = 'e2e'): DockerStack {
  const stack = new DockerStack();
  beforeAll(async () => {
    await stack.setup(name);
  }, 180000);
  afterAll(async () => {
    await stack.teardown();
  }, 60000);
  return stack;
}
