import type { ServerDuplexStream } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import type { ContainerManager } from '../containers/container-manager';
import type { NetFilterView } from '../containers/filters';
import type { LogEntryOut } from '../containers/ports';
import { mergeEntries } from '../logs/merge-entries';
import { nsToTimestamp, timestampToNs } from '../containers/record';
import { incoming, type Handlers } from './handlers';

/** Resource usage sample of a cgroup (see stats/). */
export interface StatsSource {
  sample(cgroupsPath: string): Promise<Omit<supervisorV1.ContainerStatsResponse, 'read'>>;
}
/** `ps` filtered to a container's pids (see stats/top.ts). */
export interface ProcessLister {
  top(pids: number[], psArgs: string): Promise<{ titles: string[]; processes: string[][] }>;
}

/** A container's NetworkSettings (see networks/); absent: none shown. */
export interface NetworkSettingsSource {
  settings(containerId: string, running: boolean): supervisorV1.NetworkSettings | undefined;
}

const S = supervisorV1;

/** ps's network/publish/expose filters look at what inspect shows: Networks and Ports. */
function netFilterView(ns: supervisorV1.NetworkSettings | undefined): ReturnType<NetFilterView> {
  const networks = Object.entries(ns?.networks ?? {}).map(([name, e]) => ({ name, id: e.networkId ?? '' }));
  const ports = Object.entries(ns?.ports ?? {}).flatMap(([key, b]) => {
    const [p, type = 'tcp'] = key.split('/');
    const maps = b.mappings ?? [];
    return maps.length ? maps.map((m) => ({ privatePort: Number(p), publicPort: m.hostPort ?? 0, type })) : [{ privatePort: Number(p), publicPort: 0, type }];
  });
  return { networks, ports };
}

export function toStdStream(e: LogEntryOut): supervisorV1.StdStream {
  return e.stream === 'stderr' ? S.StdStream.STD_STREAM_STDERR : S.StdStream.STD_STREAM_STDOUT;
}

/** Thin gRPC adapter over ContainerManager (drydock.supervisor.v1.Containers). */
export function containersService(m: ContainerManager, stats: StatsSource, top: ProcessLister, h: Handlers, net?: NetworkSettingsSource): supervisorV1.ContainersServer {
  return {
    createContainer: h.unary('CreateContainer', (req: supervisorV1.CreateContainerRequest) => m.create(req)),
    startContainer: h.unary('StartContainer', async (req: supervisorV1.StartContainerRequest) => ({ alreadyStarted: !(await m.start(req.id ?? '')) })),
    stopContainer: h.unary('StopContainer', async (req: supervisorV1.StopContainerRequest) => ({ alreadyStopped: !(await m.stop(req.id ?? '', req.timeoutSeconds)) })),
    restartContainer: h.unary('RestartContainer', async (req: supervisorV1.RestartContainerRequest) => {
      await m.restart(req.id ?? '', req.timeoutSeconds);
      return {};
    }),
    killContainer: h.unary('KillContainer', async (req: supervisorV1.KillContainerRequest) => {
      await m.kill(req.id ?? '', req.signal ?? '');
      return {};
    }),
    pauseContainer: h.unary('PauseContainer', async (req: supervisorV1.PauseContainerRequest) => {
      await m.pause(req.id ?? '');
      return {};
    }),
    resumeContainer: h.unary('ResumeContainer', async (req: supervisorV1.ResumeContainerRequest) => {
      await m.resume(req.id ?? '');
      return {};
    }),
    waitContainer: h.serverStream('WaitContainer', (req: supervisorV1.WaitContainerRequest, signal) => waitStream(m, req, signal)),
    removeContainer: h.unary('RemoveContainer', async (req: supervisorV1.RemoveContainerRequest) => {
      if (req.removeLink) await m.removeLink(req.id ?? '');
      else await m.remove(req.id ?? '', { force: !!req.force });
      return {};
    }),
    renameContainer: h.unary('RenameContainer', async (req: supervisorV1.RenameContainerRequest) => {
      await m.rename(req.id ?? '', req.newName ?? '');
      return {};
    }),
    updateContainer: h.unary('UpdateContainer', async (req: supervisorV1.UpdateContainerRequest) => ({ warnings: await m.update(req) })),
    listContainers: h.unary('ListContainers', (req: supervisorV1.ListContainersRequest) => ({
      containers: m.list(req, net ? (id, running) => netFilterView(net.settings(id, running)) : undefined).map((c) => (net ? { ...c, networkSettings: net.settings(c.id ?? '', c.state === 'running' || c.state === 'paused') } : c)),
    })),
    inspectContainer: h.unary('InspectContainer', (req: supervisorV1.InspectContainerRequest) => {
      const c = m.inspect(req.id ?? '');
      return { container: net ? { ...c, networkSettings: net.settings(c.id ?? '', !!c.state?.running && !c.state?.restarting) } : c };
    }),
    containerLogs: h.serverStream('ContainerLogs', (req: supervisorV1.ContainerLogsRequest, signal) => logStream(m, req, signal)),
    attachContainer: h.bidi('AttachContainer', (call, signal, write) => attach(m, call, signal, write)),
    resizeContainerTty: h.unary('ResizeContainerTty', async (req: supervisorV1.ResizeContainerTtyRequest) => {
      await m.resize(req.id ?? '', req.width ?? 0, req.height ?? 0);
      return {};
    }),
    topContainer: h.unary('TopContainer', async (req: supervisorV1.TopContainerRequest) => {
      const pids = await m.pids(req.id ?? '');
      const res = await top.top(pids, req.psArgs || '-ef');
      return { titles: res.titles, processes: res.processes.map((values) => ({ values })) };
    }),
    containerStats: h.serverStream('ContainerStats', (req: supervisorV1.ContainerStatsRequest, signal) => statsStream(m, stats, req, signal)),
  };
}

async function* waitStream(m: ContainerManager, req: supervisorV1.WaitContainerRequest, signal: AbortSignal): AsyncIterable<supervisorV1.WaitContainerResponse> {
  const cond = req.condition === S.WaitCondition.WAIT_CONDITION_REMOVED ? 'removed' : req.condition === S.WaitCondition.WAIT_CONDITION_NEXT_EXIT ? 'next-exit' : 'not-running';
  const w = m.wait(req.id ?? '', cond);
  signal.addEventListener('abort', w.cancel, { once: true });
  await w.registered;
  yield { phase: S.WaitPhase.WAIT_PHASE_REGISTERED };
  const code = await w.result;
  yield { phase: S.WaitPhase.WAIT_PHASE_EXITED, statusCode: code };
}

async function* logStream(m: ContainerManager, req: supervisorV1.ContainerLogsRequest, signal: AbortSignal): AsyncIterable<supervisorV1.LogEntry> {
  if (!req.stdout && !req.stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
  const since = timestampToNs(req.since);
  const until = timestampToNs(req.until);
  const tail = req.tail !== undefined && req.tail >= 0 ? req.tail : undefined;
  const it = m.logs(req.id ?? '', {
    stdout: !!req.stdout,
    stderr: !!req.stderr,
    follow: !!req.follow,
    sinceNs: since ? BigInt(since) : undefined,
    untilNs: until ? BigInt(until) : undefined,
    tail,
    signal,
    awaitWriter: !!req.awaitWriter,
  });
  for await (const e of req.merge ? mergeEntries(it) : it) {
    yield { stream: toStdStream(e), data: e.data, time: nsToTimestamp(e.timeNs.toString()), partial: e.partial };
  }
}

async function attach(
  m: ContainerManager,
  call: ServerDuplexStream<supervisorV1.AttachContainerRequest, supervisorV1.AttachContainerResponse>,
  signal: AbortSignal,
  write: (r: supervisorV1.AttachContainerResponse) => Promise<void>,
): Promise<void> {
  const first = await firstMessage<supervisorV1.AttachContainerRequest>(call);
  const start = first?.start;
  if (!start?.id) throw new InvalidArgumentError('the first AttachContainer message must carry start');
  const ref = start.id;
  const { output } = m.attach(ref, { stdout: !!start.stdout, stderr: !!start.stderr, logs: !!start.logs, stream: start.stream !== false, signal });
  if (start.stdin) {
    // stdin: pump client messages into the container; client EOF closes a StdinOnce stdin
    void (async () => {
      try {
        for await (const msg of incoming<supervisorV1.AttachContainerRequest>(call)) {
          if (msg.stdin && msg.stdin.length > 0) await m.writeStdin(ref, Buffer.from(msg.stdin));
          if (msg.closeStdin) await m.closeStdin(ref);
        }
        if (!signal.aborted) await m.closeStdin(ref);
      } catch {
        // the client went away; its output side ends through the abort signal
      }
    })();
  }
  for await (const e of output) {
    await write({ stream: toStdStream(e), data: e.data });
  }
}

/** Reads the first message of a duplex call, or undefined if the client ended first. */
export function firstMessage<T>(call: NodeJS.ReadableStream): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const onData = (m: T) => {
      cleanup();
      call.pause();
      resolve(m);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      call.off('data', onData);
      call.off('end', onEnd);
      call.off('error', onError);
    };
    call.on('data', onData);
    call.on('end', onEnd);
    call.on('error', onError);
  });
}

async function* statsStream(m: ContainerManager, stats: StatsSource, req: supervisorV1.ContainerStatsRequest, signal: AbortSignal): AsyncIterable<supervisorV1.ContainerStatsResponse> {
  const target = m.cgroupOf(req.id ?? '');
  for (;;) {
    const cur = m.cgroupOf(target.id);
    const sample = cur.running ? await stats.sample(cur.cgroupsPath) : emptyStats();
    const now = Date.now();
    yield { ...sample, read: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1e6 } };
    if (!req.stream || signal.aborted) return;
    if (!cur.running) return;
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) return;
  }
}

function emptyStats(): Omit<supervisorV1.ContainerStatsResponse, 'read'> {
  return { cpuTotalNs: '0', systemCpuNs: '0', onlineCpus: 0, percpuNs: [], memoryUsage: '0', memoryLimit: '0', memoryCache: '0', pidsCurrent: '0', pidsLimit: '0', blkioReadBytes: '0', blkioWriteBytes: '0' };
}

