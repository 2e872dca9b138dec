import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createReadStream, existsSync, openSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { credentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { freePort, waitFor } from '@drydock/infra';
import { buildBusyboxRootfsTar, buildDrydock, removeNetworkObjects, startTestInfra, type DrydockBuild, type TestInfra, type TestInfraOptions } from '@drydock/testing';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS } from '@drydock/runtime';

const repo = resolve(__dirname, '../../../..');


type Cb<T> = (err: ServiceError | null, res: T) => void;

/** A running supervisor process plus clients; kill() SIGKILLs it like a crash. */
export class SupervisorHarness {
  infra!: TestInfra;
  port = 0;
  containers!: supervisorV1.ContainersClient;
  images!: supervisorV1.ImagesClient;
  exec!: supervisorV1.ExecClient;
  node!: supervisorV1.NodeClient;
  archives!: supervisorV1.ArchivesClient;
  volumes!: supervisorV1.VolumesClient;
  networks!: supervisorV1.NetworksClient;
  /**
   * Private network names, so tests never touch a running drydock0 or the node's
   * chains: bridge `<netPrefix>0`, user bridges `<netPrefix>-...`, chains `<chainPrefix>-*`,
   * subnets /24s of one 10.x.0.0/16.
   */
  readonly netPrefix = `dt${randomBytes(2).toString('hex')}`;
  readonly chainPrefix = `DT${randomBytes(2).toString('hex').toUpperCase()}`;
  readonly pool = `10.${200 + randomInt(50)}.0.0/16:24`;
  private child?: ChildProcess;
  private proxyChild?: ChildProcess;
  /** Base URL of the registry-proxy the supervisor uses (setup({ registryProxy: true })). */
  registryProxyUrl?: string;
  private build!: DrydockBuild;
  stateDir = '';
  readonly output: string[] = [];

  /** Settings every supervisor start of this harness gets (setup's `env`, given the test's directory). */
  private baseEnv: Record<string, string> = {};

  async setup(opts: { registry?: TestInfraOptions['registry']; registryProxy?: boolean; env?: (dir: string) => Record<string, string> } = {}): Promise<void> {
    this.infra = await startTestInfra({ containerd: true, nats: true, registry: opts.registry, name: 'sup' });
    this.baseEnv = opts.env?.(this.infra.dir) ?? {};
    this.build = buildDrydock(join(this.infra.dir, 'build'));
    this.stateDir = join(this.infra.dir, 'state');
    this.port = await freePort();
    if (opts.registryProxy) {
      this.registryProxyUrl = `http://127.0.0.1:${await freePort()}`;
      await this.startRegistryProxy();
    }
    await this.startSupervisor();
    const target = `127.0.0.1:${this.port}`;
    const creds = credentials.createInsecure();
    this.containers = new supervisorV1.ContainersClient(target, creds);
    this.images = new supervisorV1.ImagesClient(target, creds);
    this.exec = new supervisorV1.ExecClient(target, creds);
    this.node = new supervisorV1.NodeClient(target, creds);
    this.archives = new supervisorV1.ArchivesClient(target, creds);
    this.volumes = new supervisorV1.VolumesClient(target, creds);
    this.networks = new supervisorV1.NetworksClient(target, creds);
  }

  /** Starts (or restarts) the supervisor; `env` adds settings for this start only (DRYDOCK_SUPERVISOR_CRASH_AT). */
  async startSupervisor(env: Record<string, string> = {}): Promise<void> {
    const log = openSync(join(this.infra.dir, 'supervisor.log'), 'a');
    this.child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, this.build.supervisor], {
      env: {
        ...SERVICE_MALLOC_ENV,
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_CONTAINERD_ADDRESS: this.infra.containerd!.address,
        DRYDOCK_NATS_URL: this.infra.nats!.url,
        DRYDOCK_SUPERVISOR_LISTEN: `127.0.0.1:${this.port}`,
        DRYDOCK_LOGGER_BINARY: this.build.logger,
        DRYDOCK_DNS_BINARY: this.build.dns,
        DRYDOCK_LOG_LEVEL: 'debug',
        DRYDOCK_HEARTBEAT_INTERVAL_MS: '500',
        DRYDOCK_HEARTBEAT_TTL_MS: '3000',
        DRYDOCK_BRIDGE_NAME: `${this.netPrefix}0`,
        DRYDOCK_BRIDGE_PREFIX: `${this.netPrefix}-`,
        // overlay bridges under the same prefix, so the teardown's sweep takes them too
        DRYDOCK_OVERLAY_BRIDGE_PREFIX: `${this.netPrefix}o`,
        DRYDOCK_NETWORK_POOLS: this.pool,
        DRYDOCK_IPTABLES_CHAIN_PREFIX: this.chainPrefix,
        ...(this.registryProxyUrl ? { DRYDOCK_REGISTRY_PROXY_URL: this.registryProxyUrl } : {}),
        ...this.baseEnv,
        ...env,
      },
      stdio: ['ignore', log, log],
    });
    const child = this.child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`supervisor exited with ${child.exitCode}; see ${join(this.infra.dir, 'supervisor.log')}`);
      return tcpOpen(this.port);
    }, 30000, 'supervisor port');
  }

  /** Starts (or restarts) the built registry-proxy on registryProxyUrl's port; its store survives restarts. */
  async startRegistryProxy(): Promise<void> {
    const port = Number(new URL(this.registryProxyUrl!).port);
    const log = openSync(join(this.infra.dir, 'registry-proxy.log'), 'a');
    const child = spawn(process.execPath, [this.build.registryProxy], {
      env: {
        PATH: process.env.PATH,
        DRYDOCK_STATE_DIR: this.stateDir,
        DRYDOCK_REGISTRY_PROXY_LISTEN: `127.0.0.1:${port}`,
        DRYDOCK_REGISTRY_PROXY_DIR: join(this.infra.dir, 'registry-proxy'),
        DRYDOCK_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', log, log],
    });
    this.proxyChild = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`registry-proxy exited with ${child.exitCode}; see ${join(this.infra.dir, 'registry-proxy.log')}`);
      return tcpOpen(port);
    }, 30000, 'registry-proxy port');
  }

  /** SIGKILLs the registry-proxy, like a crash. */
  async killRegistryProxy(): Promise<void> {
    const c = this.proxyChild;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await done;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves with the signal that ended the supervisor (null for an exit), once it is gone. */
  exited(timeoutMs = 20000): Promise<NodeJS.Signals | null> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c?.signalCode ?? null);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('supervisor still running')), timeoutMs);
      c.once('exit', (_code, signal) => {
        clearTimeout(t);
        res(signal);
      });
    });
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await done;
  }

  async stopGracefully(): Promise<number | null> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
    const done = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    c.kill('SIGTERM');
    return done;
  }

  async teardown(): Promise<void> {
    this.containers?.close();
    this.images?.close();
    this.exec?.close();
    this.node?.close();
    this.archives?.close();
    this.volumes?.close();
    this.networks?.close();
    if (process.env.DRYDOCK_KEEP_TEST_INFRA) {
      // debugging aid: leave everything in place and say where
      // eslint-disable-next-line no-console
      console.log(`test infrastructure kept in ${this.infra?.dir}`);
      return;
    }
    await this.kill();
    await this.killRegistryProxy();
    // before the state directory goes: its network records name the portmap rules to remove (after it, a
    // failed test's rules stayed and DNAT'd the same ports of the next run)
    this.removeNetworkObjects();
    await this.infra?.stop();
  }

  /** The test's bridges (veths went with their containers) and iptables chains. */
  removeNetworkObjects(): void {
    removeNetworkObjects({ stateDir: this.stateDir, bridgePrefix: this.netPrefix, chainPrefix: this.chainPrefix });
  }

  /** Host bridges of this test (names under netPrefix). */
  bridges(): string[] {
    const out = execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge']).toString();
    return (JSON.parse(out || '[]') as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(this.netPrefix));
  }

  n<K extends keyof supervisorV1.NetworksClient>(name: K, req: unknown): Promise<any> {
    const m = this.networks[name] as unknown as (req: unknown, cb: Cb<unknown>) => unknown;
    return this.call(this.networks, m, req);
  }

  // ---------------------------------------------------------------- calls

  call<Req, Res>(client: object, method: (req: Req, cb: Cb<Res>) => unknown, req: Req): Promise<Res> {
    return new Promise((res, rej) => method.call(client, req, (err: ServiceError | null, r: Res) => (err ? rej(err) : res(r))));
  }

  c<K extends keyof supervisorV1.ContainersClient>(name: K, req: unknown): Promise<any> {
    const m = this.containers[name] as unknown as (req: unknown, cb: Cb<unknown>) => unknown;
    return this.call(this.containers, m, req);
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

  /** Creates and starts a container running `sh -c script`. */
  async run(script: string, extra: Partial<supervisorV1.CreateContainerRequest> = {}): Promise<string> {
    const res = await this.c('createContainer', {
      name: extra.name,
      config: { image: 'busybox', cmd: { values: ['sh', '-c', script] }, ...(extra.config ?? {}) },
      hostConfig: extra.hostConfig ?? {},
      endpoints: extra.endpoints ?? {},
    });
    await this.c('startContainer', { id: res.id });
    return res.id;
  }

  inspect(id: string): Promise<supervisorV1.ContainerInfo> {
    return this.c('inspectContainer', { id }).then((r) => r.container);
  }

  /** Collects logs as { stdout, stderr } text. */
  logs(id: string, req: Partial<supervisorV1.ContainerLogsRequest> = {}): Promise<{ stdout: string; stderr: string; entries: supervisorV1.LogEntry[] }> {
    return new Promise((res, rej) => {
      const s: ClientReadableStream<supervisorV1.LogEntry> = this.containers.containerLogs({ id, stdout: true, stderr: true, ...req });
      const entries: supervisorV1.LogEntry[] = [];
      s.on('data', (e: supervisorV1.LogEntry) => entries.push(e));
      s.on('error', rej);
      s.on('end', () => {
        const text = (st: supervisorV1.StdStream) => Buffer.concat(entries.filter((e) => e.stream === st).map((e) => Buffer.from(e.data ?? Buffer.alloc(0)))).toString();
        res({ stdout: text(supervisorV1.StdStream.STD_STREAM_STDOUT), stderr: text(supervisorV1.StdStream.STD_STREAM_STDERR), entries });
      });
    });
  }

  /** Waits for the exit (condition not-running) and returns the code. */
  wait(id: string, condition = supervisorV1.WaitCondition.WAIT_CONDITION_NOT_RUNNING): Promise<number> {
    return new Promise((res, rej) => {
      const s = this.containers.waitContainer({ id, condition });
      s.on('data', (r: supervisorV1.WaitContainerResponse) => {
        if (r.phase === supervisorV1.WaitPhase.WAIT_PHASE_EXITED) res(r.statusCode ?? -1);
      });
      s.on('error', rej);
    });
  }
}

export function grpcCode(err: unknown): number | undefined {
  return (err as ServiceError)?.code;
}

function tcpOpen(port: number): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const net = require('node:net') as typeof import('node:net');
  return new Promise((r) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}
