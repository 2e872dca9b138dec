// End-to-end harness of a two-node cluster in the host namespace: two private containerds, two
// supervisors and two gateways (DRYDOCK_CLUSTER=1) sharing one NATS, and the scheduler, each a
// process built from the current sources, with private state dirs, bridges, pools and chain
// prefixes. The REAL docker CLI drives any node's gateway.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { dockerPingOk, freePort, tcpAccepts, waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, buildDrydock, removeNetworkObjects, startTestInfra, type DrydockBuild, type TestInfra } from '@drydock/testing';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS } from '@drydock/runtime';
import { findDockerCli, type CliResult } from './stack';

const repo = resolve(__dirname, '../../../..');

export class ClusterNodeProc {
  supervisor?: ChildProcess;
  gateway?: ChildProcess;
  supervisorPort = 0;
  readonly stateDir: string;
  readonly socket: string;
  readonly net: Record<string, string>;

  constructor(readonly name: string, readonly infra: TestInfra, index: number) {
    this.stateDir = join(infra.dir, 'state');
    this.socket = join(infra.dir, 'd.sock');
    const hex = randomBytes(2).toString('hex');
    this.net = {
      DRYDOCK_BRIDGE_NAME: `dc${hex}0`,
      DRYDOCK_BRIDGE_PREFIX: `dc${hex}-`,
    DRYDOCK_OVERLAY_BRIDGE_PREFIX: `dc${hex}o`,
      DRYDOCK_IPTABLES_CHAIN_PREFIX: `DC${hex.toUpperCase()}`,
      // clear of the bench's 10.171-173 (a private dockerd and its compare stack), the e2e stacks' 10.150-169, the supervisor tests' 10.200-249
      DRYDOCK_NETWORK_POOLS: `10.${120 + index * 2}.0.0/16:24`,
    };
  }
}

export class ClusterStack {
  readonly dockerBin = findDockerCli();
  nodes: ClusterNodeProc[] = [];
  nats!: TestInfra;
  scheduler?: ChildProcess;
  schedulerPort = 0;
  registryProxy?: ChildProcess;
  registryProxyPort = 0;
  private build!: DrydockBuild;
  private schedulerBundle = '';
  private dockerConfig = '';

  async setup(): Promise<void> {
    this.nats = await startTestInfra({ containerd: true, nats: true, registry: true, name: 'cgw-a' });
    const b = await startTestInfra({ containerd: true, name: 'cgw-b' });
    this.nodes = [new ClusterNodeProc('cgwa', this.nats, 0), new ClusterNodeProc('cgwb', b, 1)];
    const out = join(this.nats.dir, 'build');
    this.build = buildDrydock(out);
    execFileSync(process.execPath, [join(repo, 'tools/build/build.mjs'), '--out', out, 'scheduler'], { stdio: 'pipe' });
    this.schedulerBundle = join(out, 'apps/scheduler/main.js');
    this.dockerConfig = join(this.nats.dir, 'docker-config');
    mkdirSync(this.dockerConfig, { recursive: true });
    writeFileSync(join(this.dockerConfig, 'config.json'), '{}\n');
    this.schedulerPort = await freePort();
    this.registryProxyPort = await freePort();
    await this.startRegistryProxy();
    await this.startScheduler();
    for (const n of this.nodes) {
      n.supervisorPort = await freePort();
      await this.startSupervisor(n);
      await this.startGateway(n);
      await this.importBusybox(n);
    }
    // both nodes beat and are in each gateway's view
    for (const n of this.nodes) {
      await waitFor(async () => {
        const info = JSON.parse((await this.get(n, '/info')).body) as { SystemStatus?: [string, string][] };
        return this.nodes.every((m) => (info.SystemStatus ?? []).some(([k]) => k === ` ${m.name}`));
      }, 30000, `cluster view of ${n.name}`);
    }
  }

  private logFile(dir: string, name: string): number {
    return openSync(join(dir, `${name}.log`), 'a');
  }

  logTail(n: ClusterNodeProc | undefined, name: string, lines = 40): string {
    try {
      return readFileSync(join((n?.infra ?? this.nats).dir, `${name}.log`), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** The cluster's one registry-proxy (every node pulls through it), in front of the test registry. */
  async startRegistryProxy(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.registryProxy], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: join(this.nats.dir, 'state'),
        DRYDOCK_REGISTRY_PROXY_LISTEN: `127.0.0.1:${this.registryProxyPort}`,
        DRYDOCK_REGISTRY_PROXY_DIR: join(this.nats.dir, 'registry-proxy'),
        DRYDOCK_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', this.logFile(this.nats.dir, 'registry-proxy'), this.logFile(this.nats.dir, 'registry-proxy')],
    });
    this.registryProxy = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`registry-proxy exited with ${child.exitCode}:\n${this.logTail(undefined, 'registry-proxy')}`);
      return tcpAccepts(this.registryProxyPort);
    }, 30000, 'registry-proxy port');
  }

  get registryProxyUrl(): string {
    return `http://127.0.0.1:${this.registryProxyPort}`;
  }

  async startScheduler(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.schedulerBundle], {
      env: { ...SERVICE_MALLOC_ENV, PATH: process.env.PATH, DRYDOCK_NATS_URL: this.nats.nats!.url, DRYDOCK_SCHEDULER_LISTEN: `127.0.0.1:${this.schedulerPort}`, DRYDOCK_LOG_LEVEL: 'debug' },
      stdio: ['ignore', this.logFile(this.nats.dir, 'scheduler'), this.logFile(this.nats.dir, 'scheduler')],
    });
    this.scheduler = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`scheduler exited with ${child.exitCode}:\n${this.logTail(undefined, 'scheduler')}`);
      return tcpAccepts(this.schedulerPort);
    }, 30000, 'scheduler port');
  }

  async killScheduler(): Promise<void> {
    await kill(this.scheduler, 'SIGKILL');
  }

  async startSupervisor(n: ClusterNodeProc): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.supervisor], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_CLUSTER: '1',
        DRYDOCK_NODE_NAME: n.name,
        DRYDOCK_STATE_DIR: n.stateDir,
        DRYDOCK_CONTAINERD_ADDRESS: n.infra.containerd!.address,
        DRYDOCK_NATS_URL: this.nats.nats!.url,
        DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
        DRYDOCK_SUPERVISOR_LISTEN: `127.0.0.1:${n.supervisorPort}`,
        DRYDOCK_LOGGER_BINARY: this.build.logger,
        DRYDOCK_DNS_BINARY: this.build.dns,
        DRYDOCK_HEARTBEAT_INTERVAL_MS: '1000',
        DRYDOCK_LOG_LEVEL: 'debug',
        ...n.net,
      },
      stdio: ['ignore', this.logFile(n.infra.dir, 'supervisor'), this.logFile(n.infra.dir, 'supervisor')],
    });
    n.supervisor = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`supervisor ${n.name} exited with ${child.exitCode}:\n${this.logTail(n, 'supervisor')}`);
      return tcpAccepts(n.supervisorPort);
    }, 30000, `supervisor ${n.name}`);
  }

  /** SIGTERM: the node deregisters (its heartbeat key goes), its containers keep running. */
  async stopSupervisor(n: ClusterNodeProc): Promise<void> {
    await kill(n.supervisor, 'SIGTERM');
  }

  async killSupervisor(n: ClusterNodeProc): Promise<void> {
    await kill(n.supervisor, 'SIGKILL');
  }

  async startGateway(n: ClusterNodeProc): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.gateway], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_CLUSTER: '1',
        DRYDOCK_GATEWAY_SOCKET: n.socket,
        DRYDOCK_SUPERVISOR_ADDRESS: `127.0.0.1:${n.supervisorPort}`,
        DRYDOCK_SCHEDULER_ADDRESS: `127.0.0.1:${this.schedulerPort}`,
        DRYDOCK_NATS_URL: this.nats.nats!.url,
        DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl,
        DRYDOCK_STATE_DIR: n.stateDir,
        DRYDOCK_REDIS_URL: 'redis://127.0.0.1:1',
        DRYDOCK_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', this.logFile(n.infra.dir, 'gateway'), this.logFile(n.infra.dir, 'gateway')],
    });
    n.gateway = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`gateway ${n.name} exited with ${child.exitCode}:\n${this.logTail(n, 'gateway')}`);
      return dockerPingOk(n.socket);
    }, 30000, `gateway ${n.name}`);
  }

  private async importBusybox(n: ClusterNodeProc): Promise<void> {
    const tar = join(this.nats.dir, 'busybox.tar');
    if (!existsSync(tar)) await buildBusyboxRootfsTar(tar);
    const images = new supervisorV1.ImagesClient(`127.0.0.1:${n.supervisorPort}`, credentials.createInsecure());
    try {
      await new Promise<void>((res, rej) => {
        const stream = images.importImage((err) => (err ? rej(err) : res()));
        stream.write({ header: { repository: 'busybox', tag: 'latest', changes: ['CMD ["/bin/sh"]'], message: '', platform: '' } });
        const rs = createReadStream(tar, { highWaterMark: 256 * 1024 });
        rs.on('data', (chunk) => stream.write({ chunk: chunk as Buffer }));
        rs.on('end', () => stream.end());
        rs.on('error', rej);
      });
    } finally {
      images.close();
    }
  }

  /** GET over a node's gateway socket. */
  get(n: ClusterNodeProc, path: string): Promise<{ status: number; body: string }> {
    return new Promise((res, rej) => {
      const req = request({ socketPath: n.socket, method: 'GET', path, timeout: 10000 }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', rej);
      req.end();
    });
  }

  /** The real docker CLI against a node's gateway (killed after timeoutMs). */
  docker(n: ClusterNodeProc, args: string[], timeoutMs = 30000): Promise<CliResult & { ms: number }> {
    const started = Date.now();
    return new Promise((res) => {
      const child = spawn(this.dockerBin, args, {
        env: { PATH: process.env.PATH, HOME: this.dockerConfig, DOCKER_CONFIG: this.dockerConfig, DOCKER_HOST: `unix://${n.socket}`, DOCKER_CLI_HINTS: 'false', LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      let timedOut = false;
      const t = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('close', (code) => {
        clearTimeout(t);
        res({ code, stdout, stderr, timedOut, ms: Date.now() - started });
      });
    });
  }

  async teardown(): Promise<void> {
    if (process.env.DRYDOCK_KEEP_TEST_INFRA) return;
    for (const n of this.nodes) {
      await kill(n.gateway, 'SIGKILL');
      await kill(n.supervisor, 'SIGKILL');
    }
    await kill(this.scheduler, 'SIGKILL');
    await kill(this.registryProxy, 'SIGKILL');
    for (const n of this.nodes) {
      removeNetworkObjects({ stateDir: n.stateDir, bridgePrefix: n.net.DRYDOCK_BRIDGE_NAME.slice(0, -1), chainPrefix: n.net.DRYDOCK_IPTABLES_CHAIN_PREFIX });
    }
    for (const n of this.nodes.slice(1)) await n.infra.stop();
    await this.nats?.stop();
  }
}

async function kill(c: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill(signal);
  await gone;
}
