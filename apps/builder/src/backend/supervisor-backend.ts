import { credentials, Metadata, type CallOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { fromGrpcError, isNotFound, isUnavailable } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { ImageConfig, ImageRunConfig } from '@drydock/oci-spec';
import { supervisorV1 } from '@drydock/proto';
import type { BuildBackend, CommitStep, ImageInfo, ImagePath, ProgressMessage, StepHostOptions } from './ports';
import { progressMessage } from './progress-json';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export interface SupervisorBackendOptions {
  address: string;
  callTimeoutMs: number;
  /** How long calls keep being retried while the supervisor is unreachable (restarting). */
  retryWindowMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * BuildBackend over the supervisor's gRPC API. Every call rides out a supervisor restart: UNAVAILABLE
 * is retried for `retryWindowMs`, and a step container's wait and output streams are picked up again
 * where they were (the container keeps running in its shim meanwhile).
 */
export class SupervisorBackend implements BuildBackend {
  private readonly containers: supervisorV1.ContainersClient;
  private readonly images: supervisorV1.ImagesClient;
  private readonly archives: supervisorV1.ArchivesClient;
  private readonly log: Logger;

  constructor(
    private readonly opts: SupervisorBackendOptions,
    logger: Logger,
  ) {
    const creds = credentials.createInsecure();
    const o = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 };
    this.containers = new supervisorV1.ContainersClient(opts.address, creds, o);
    this.images = new supervisorV1.ImagesClient(opts.address, creds, o);
    this.archives = new supervisorV1.ArchivesClient(opts.address, creds, o);
    this.log = logger.child({ component: 'supervisor-backend' });
  }

  close(): void {
    for (const c of [this.containers, this.images, this.archives]) c.close();
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + this.opts.retryWindowMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isUnavailable(err) || Date.now() > until) throw err;
        if (attempt % 10 === 0) this.log.warn({ what }, 'supervisor unavailable; retrying');
        await sleep(Math.min(1000, 100 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  private call<Req, Res>(client: object, method: Unary<Req, Res>, req: Req, timeoutMs = this.opts.callTimeoutMs): Promise<Res> {
    const t0 = Date.now();
    return this.retrying(
      method.name,
      () =>
        new Promise((resolve, reject) => {
          method.call(client, req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs), waitForReady: true } as Partial<CallOptions>, (err, res) => {
            this.log.debug({ what: method.name, ms: Date.now() - t0 }, 'supervisor call');
            return err ? reject(fromGrpcError(err)) : resolve(res);
          });
        }),
    );
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    try {
      const res = await this.call(this.images, this.images.inspectImage, { ref });
      const config = JSON.parse(Buffer.from(res.configJson ?? new Uint8Array()).toString('utf8') || '{}') as ImageConfig;
      return { id: res.id ?? '', config, parent: res.parent ?? '' };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async pullImage(ref: string, platform: string, registryAuth: string, onProgress: (m: ProgressMessage) => Promise<void>, signal: AbortSignal): Promise<void> {
    await this.retrying('pull', async () => {
      const call = this.images.pullImage({ ref, platform, registryAuth, allTags: false }, new Metadata());
      const cancel = () => call.cancel();
      signal.addEventListener('abort', cancel, { once: true });
      try {
        for await (const m of call as AsyncIterable<supervisorV1.ImageProgress>) await onProgress(progressMessage(m));
      } catch (err) {
        throw fromGrpcError(err);
      } finally {
        signal.removeEventListener('abort', cancel);
      }
    });
  }

  async createContainer(config: ImageRunConfig, host: StepHostOptions, labels: Record<string, string>): Promise<{ id: string; warnings: string[] }> {
    const res = await this.call(this.containers, this.containers.createContainer, {
      name: '',
      config: {
        image: config.Image ?? '',
        cmd: { values: config.Cmd ?? [] },
        entrypoint: { values: (config.Entrypoint ?? []).filter((e) => e !== '') },
        env: config.Env ?? [],
        workingDir: config.WorkingDir ?? '',
        user: config.User ?? '',
        hostname: config.Hostname ?? '',
        domainname: config.Domainname ?? '',
        labels: { ...(config.Labels ?? {}), ...labels },
        stopSignal: config.StopSignal ?? '',
        exposedPorts: Object.keys(config.ExposedPorts ?? {}),
      },
      hostConfig: {
        networkMode: host.networkMode || 'default',
        memory: String(host.memory),
        memorySwap: String(host.memorySwap),
        cpuShares: String(host.cpuShares),
        cpuPeriod: String(host.cpuPeriod),
        cpuQuota: String(host.cpuQuota),
        shmSize: String(host.shmSize),
      },
    });
    return { id: res.id ?? '', warnings: res.warnings ?? [] };
  }

  async runContainer(id: string, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => Promise<void>, signal: AbortSignal): Promise<number> {
    const kill = () => void this.call(this.containers, this.containers.killContainer, { id, signal: 'KILL' }).catch(() => undefined);
    signal.addEventListener('abort', kill, { once: true });
    try {
      // the wait is registered before the start, so a fast exit cannot be missed
      const wait = this.waitExit(id, 'next-exit');
      await wait.registered;
      await this.call(this.containers, this.containers.startContainer, { id });
      const logs = this.followLogs(id, onOutput, signal);
      const code = await wait.exit;
      await logs;
      return code;
    } finally {
      signal.removeEventListener('abort', kill);
    }
  }

  /** WaitContainer that survives supervisor restarts: a broken stream is re-opened with "not-running". */
  private waitExit(id: string, first: 'next-exit' | 'not-running'): { registered: Promise<void>; exit: Promise<number> } {
    let registeredResolve!: () => void;
    const registered = new Promise<void>((r) => (registeredResolve = r));
    const exit = (async () => {
      let condition = first === 'next-exit' ? supervisorV1.WaitCondition.WAIT_CONDITION_NEXT_EXIT : supervisorV1.WaitCondition.WAIT_CONDITION_NOT_RUNNING;
      const until = () => Date.now() + this.opts.retryWindowMs;
      let deadline = until();
      for (;;) {
        try {
          const call = this.containers.waitContainer({ id, condition }, new Metadata(), { waitForReady: true } as Partial<CallOptions>);
          for await (const m of call as AsyncIterable<supervisorV1.WaitContainerResponse>) {
            if (m.phase === supervisorV1.WaitPhase.WAIT_PHASE_REGISTERED) {
              registeredResolve();
              deadline = until();
            }
            if (m.phase === supervisorV1.WaitPhase.WAIT_PHASE_EXITED) return m.statusCode ?? 0;
          }
          throw new Error('wait stream ended without an exit');
        } catch (err) {
          const e = err instanceof Error && !('code' in err) ? err : fromGrpcError(err);
          if (!isUnavailable(e) && !(e instanceof Error && e.message === 'wait stream ended without an exit')) throw e;
          if (Date.now() > deadline) throw e;
          this.log.warn({ containerId: id }, 'lost the wait for a step container; waiting again');
          condition = supervisorV1.WaitCondition.WAIT_CONDITION_NOT_RUNNING;
          await sleep(200);
        }
      }
    })();
    exit.catch(() => registeredResolve());
    return { registered, exit };
  }

  /** Follows the container's output; after a supervisor restart it reads the log again and skips what it relayed. */
  private async followLogs(id: string, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => Promise<void>, signal: AbortSignal): Promise<void> {
    let relayed = 0;
    let deadline = Date.now() + this.opts.retryWindowMs;
    for (;;) {
      let seen = 0;
      try {
        const call: ClientReadableStream<supervisorV1.LogEntry> = this.containers.containerLogs({ id, follow: true, stdout: true, stderr: true, merge: true, awaitWriter: true }, new Metadata(), { waitForReady: true } as Partial<CallOptions>);
        const cancel = () => call.cancel();
        signal.addEventListener('abort', cancel, { once: true });
        try {
          for await (const e of call as AsyncIterable<supervisorV1.LogEntry>) {
            const data = Buffer.from(e.data ?? new Uint8Array());
            const skip = Math.max(0, Math.min(data.length, relayed - seen));
            seen += data.length;
            if (skip < data.length) {
              await onOutput(e.stream === supervisorV1.StdStream.STD_STREAM_STDERR ? 'stderr' : 'stdout', data.subarray(skip));
              relayed = seen;
            }
            deadline = Date.now() + this.opts.retryWindowMs;
          }
        } finally {
          signal.removeEventListener('abort', cancel);
        }
        return;
      } catch (err) {
        if (signal.aborted) return;
        const e = fromGrpcError(err);
        if (!isUnavailable(e) || Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.call(this.containers, this.containers.removeContainer, { id, force: true, removeVolumes: true });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async listContainers(label: string): Promise<string[]> {
    const res = await this.call(this.containers, this.containers.listContainers, { all: true, limit: 0, filters: [{ key: 'label', values: [label] }] });
    return (res.containers ?? []).map((c) => c.id ?? '');
  }

  async commit(step: CommitStep, layer?: AsyncIterable<Buffer>): Promise<string> {
    const t0 = Date.now();
    try {
      return await this.commitOnce(step, layer);
    } finally {
      this.log.debug({ what: 'commit', ms: Date.now() - t0 }, 'supervisor call');
    }
  }

  private async commitOnce(step: CommitStep, layer?: AsyncIterable<Buffer>): Promise<string> {
    // a commit with a streamed layer cannot be replayed once its stream is consumed: only a header-only commit is retried
    const once = () =>
      new Promise<string>((resolve, reject) => {
        const call = this.images.commitImage(new Metadata(), { deadline: new Date(Date.now() + 60 * 60_000) }, (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res.id ?? '')));
        call.write({
          header: {
            containerId: step.containerId ?? '',
            parentImage: step.parentImage ?? '',
            layerTar: !!layer,
            configJson: Buffer.from(JSON.stringify(step.config)),
            containerConfigJson: Buffer.from(JSON.stringify(step.containerConfig)),
            recordedContainer: step.recordedContainer ?? '',
            author: step.author ?? '',
            metadataLabels: { build: '1', ...step.labels },
            consume: !!step.consume,
          },
        });
        void (async () => {
          try {
            if (layer) {
              // a layer tar comes in pieces of an entry each (512-byte headers): messages of up to 1 MB
              const MAX = 1024 * 1024;
              let pending: Buffer[] = [];
              let pendingBytes = 0;
              const send = async () => {
                const data = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
                pending = [];
                pendingBytes = 0;
                for (let i = 0; i < data.length; i += MAX) {
                  if (!call.write({ chunk: data.subarray(i, i + MAX) })) await new Promise<void>((r) => call.once('drain', () => r()));
                }
              };
              for await (const chunk of layer) {
                pending.push(chunk);
                pendingBytes += chunk.length;
                if (pendingBytes >= MAX) await send();
              }
              if (pendingBytes > 0) await send();
            }
            call.end();
          } catch (err) {
            call.cancel();
            reject(err);
          }
        })();
      });
    return layer ? once() : this.retrying('commit', once);
  }

  async readImagePaths(image: string, paths: string[], readLimit: number): Promise<ImagePath[]> {
    const res = await this.call(this.images, this.images.readImagePaths, { image, paths, readLimit: String(readLimit) });
    return (res.paths ?? []).map((p) => ({
      path: p.path ?? '',
      resolved: p.resolved ?? '',
      exists: !!p.exists,
      isDir: !!p.isDir,
      mode: p.mode ?? 0,
      uid: p.uid ?? 0,
      gid: p.gid ?? 0,
      mtimeMs: Number(p.mtimeMs ?? 0),
      content: p.content ? Buffer.from(p.content) : undefined,
    }));
  }

  async childImages(parentId: string, depth = 1): Promise<{ id: string; config: ImageConfig; parent: string }[]> {
    const res = await this.call(this.images, this.images.listChildImages, { parentId, depth });
    // a supervisor without `depth` answers the children only, each without parent_id: theirs is parentId
    return (res.images ?? []).map((i) => ({ id: i.id ?? '', config: JSON.parse(Buffer.from(i.configJson ?? new Uint8Array()).toString('utf8')) as ImageConfig, parent: i.parentId || parentId }));
  }

  async imagePathTar(image: string, path: string, signal: AbortSignal): Promise<{ exists: boolean; chunks: AsyncIterable<Buffer> }> {
    // docker cp's machinery: a container that never starts gives the image's files
    const created = await this.call(this.containers, this.containers.createContainer, { name: '', config: { image, cmd: { values: ['/drydock-build-copy'] }, entrypoint: { values: [] }, labels: { 'drydock.build.copy': '1' } }, hostConfig: { networkMode: 'none' } });
    const id = created.id ?? '';
    const remove = () => this.removeContainer(id).catch(() => undefined);
    const call = this.archives.getArchive({ id, path }, new Metadata());
    const it = (call as AsyncIterable<supervisorV1.GetArchiveResponse>)[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      if (first.done) {
        await remove();
        return { exists: false, chunks: (async function* () {})() };
      }
    } catch (err) {
      await remove();
      if (isNotFound(fromGrpcError(err))) return { exists: false, chunks: (async function* () {})() };
      throw fromGrpcError(err);
    }
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    async function* chunks(): AsyncIterable<Buffer> {
      try {
        for (let n = await it.next(); !n.done; n = await it.next()) if (n.value.chunk) yield Buffer.from(n.value.chunk);
      } finally {
        signal.removeEventListener('abort', cancel);
        await remove();
      }
    }
    return { exists: true, chunks: chunks() };
  }

  async tagImage(id: string, repository: string, tag: string): Promise<void> {
    await this.call(this.images, this.images.tagImage, { source: id, repository, tag });
  }
}
