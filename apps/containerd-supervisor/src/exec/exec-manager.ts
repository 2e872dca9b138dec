import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@drydock/logging';
import type { supervisorV1 } from '@drydock/proto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, isNotFound } from '@drydock/errors';
import type { ContainerdClient } from '../containerd/containerd-client';
import type { ContainerManager } from '../containers/container-manager';
import { execAction } from '../events/docker-event';
import type { ContainerEvents, LogBackend, LogEntryOut, SpecBuilder } from '../containers/ports';

interface ExecState {
  id: string;
  containerId: string;
  req: supervisorV1.CreateExecRequest;
  running: boolean;
  started: boolean;
  exitCode?: number;
  pid: number;
  stdin?: FileHandle;
  dir: string;
  exited: Promise<number>;
  resolveExit: (code: number) => void;
  actor: { id: string; name: string; image: string; labels: Record<string, string> };
}

export interface ExecStartResult {
  /** Output until the process exited and its last byte was read (empty when detached). */
  output: AsyncIterable<LogEntryOut>;
  exitCode: Promise<number>;
  tty: boolean;
}

/** How long finished exec records stay inspectable. */
const KEEP_FINISHED_MS = 10 * 60 * 1000;
const PROCESS_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

/**
 * Exec sessions (a debugging aid): extra processes in a running container.
 * Output goes through the same log writer as containers, so the last bytes
 * of a short process are never lost to a FIFO race.
 */
export class ExecManager {
  private readonly execs = new Map<string, ExecState>();
  private readonly log: Logger;

  constructor(
    private readonly cc: ContainerdClient,
    private readonly containers: ContainerManager,
    private readonly logs: LogBackend,
    private readonly specs: SpecBuilder,
    private readonly events: ContainerEvents,
    private readonly stateDir: string,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'exec-manager' });
  }

  async create(req: supervisorV1.CreateExecRequest): Promise<string> {
    if (!req.cmd || req.cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
    const target = await this.containers.execTarget(req.containerId ?? '');
    const id = randomBytes(32).toString('hex');
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));
    this.execs.set(id, {
      id,
      containerId: target.id,
      req,
      running: false,
      started: false,
      pid: 0,
      dir: join(this.stateDir, 'containers', target.id, 'execs', id.slice(0, 16)),
      exited,
      resolveExit,
      actor: { id: target.id, name: target.name, image: target.image, labels: target.labels },
    });
    this.events.container(execAction('exec_create', req.cmd[0], req.cmd.slice(1)), this.execs.get(id)!.actor, { execID: id });
    return id;
  }

  private get(id: string): ExecState {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  async start(id: string, opts: { detach: boolean; width?: number; height?: number; signal: AbortSignal }): Promise<ExecStartResult> {
    const e = this.get(id);
    if (e.started) throw new FailedPreconditionError(`Error: Exec command ${id} is already running`);
    const target = await this.containers.execTarget(e.containerId);
    e.started = true;
    const req = e.req;
    await mkdir(e.dir, { recursive: true });
    const logPath = join(e.dir, 'output.log');
    const fifos = {
      stdout: join(e.dir, 'stdout'),
      stderr: req.tty ? undefined : join(e.dir, 'stderr'),
      stdin: req.attachStdin && !opts.detach ? join(e.dir, 'stdin') : undefined,
    };
    const writer = await this.logs.spawnWriter({ logPath, stdoutFifo: fifos.stdout, stderrFifo: fifos.stderr, stdinFifo: fifos.stdin, holdStdin: false });
    try {
      if (fifos.stdin) e.stdin = await open(fifos.stdin, 'r+');
      const processSpec = await this.specs.execProcess(target.ociSpec, req, target.rootfs);
      await this.cc.unary(this.cc.tasks, this.cc.tasks.exec, {
        containerId: e.containerId,
        execId: id,
        stdin: fifos.stdin,
        stdout: fifos.stdout,
        stderr: fifos.stderr,
        terminal: !!req.tty,
        spec: { typeUrl: PROCESS_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(processSpec)) },
      });
      if (req.tty && opts.width && opts.height) {
        await this.cc.unary(this.cc.tasks, this.cc.tasks.resizePty, { containerId: e.containerId, execId: id, width: opts.width, height: opts.height }).catch(() => undefined);
      }
      e.running = true;
      const started = await this.cc.unary(this.cc.tasks, this.cc.tasks.start, { containerId: e.containerId, execId: id });
      // an exec's shim opens its FIFO writers in Start (not in Exec): arm only now
      writer.arm();
      e.pid = started.pid ?? 0;
      this.events.container(execAction('exec_start', req.cmd![0], req.cmd!.slice(1)), e.actor, { execID: id });
    } catch (err) {
      writer.abort();
      e.running = false;
      await e.stdin?.close().catch(() => undefined);
      e.stdin = undefined;
      await this.cc.unary(this.cc.tasks, this.cc.tasks.deleteProcess, { containerId: e.containerId, execId: id }).catch(() => undefined);
      // dockerd reports a failed exec start in the stream and as exit code 126
      const text = err instanceof Error ? err.message : String(err);
      const message = `${text.startsWith('OCI runtime exec failed') ? text : `OCI runtime exec failed: ${text}`}\r\n`;
      this.finish(e, 126);
      return { output: once({ stream: 'stdout', data: Buffer.from(message), timeNs: 0n, partial: false }), exitCode: Promise.resolve(126), tty: !!req.tty };
    }
    const output = opts.detach
      ? empty()
      : this.logs.read(logPath, { stdout: req.attachStdout !== false, stderr: req.attachStderr !== false, follow: true, awaitWriter: true, signal: opts.signal, isRunning: async () => {
            // The output ends (EOF record) just before the exit is reported: wait for the exit
            // rather than a poll period, so the stream (and `docker exec`) ends at once.
            if (e.running) await Promise.race([e.exited, new Promise((r) => setTimeout(r, 500))]);
            return e.running;
          } });
    return { output, exitCode: e.exited, tty: !!req.tty };
  }

  /** Task monitor callback: an exec process exited. */
  async handleExit(containerId: string, execId: string, exitStatus: number): Promise<void> {
    const e = this.execs.get(execId);
    if (!e || e.containerId !== containerId || !e.running) return;
    try {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.deleteProcess, { containerId, execId });
    } catch (err) {
      if (!isNotFound(err)) this.log.debug({ err, execId }, 'exec process delete failed');
    }
    this.finish(e, exitStatus);
    this.events.container('exec_die', e.actor, { execID: execId, exitCode: String(exitStatus) });
  }

  private finish(e: ExecState, code: number): void {
    e.running = false;
    e.exitCode = code;
    void e.stdin?.close().catch(() => undefined);
    e.stdin = undefined;
    e.resolveExit(code);
    setTimeout(() => {
      this.execs.delete(e.id);
      void rm(e.dir, { recursive: true, force: true }).catch(() => undefined);
    }, KEEP_FINISHED_MS).unref();
  }

  /** The container is gone or restarted: its execs ended. */
  containerStopped(containerId: string): void {
    for (const e of this.execs.values()) {
      if (e.containerId === containerId && e.running) this.finish(e, 137);
    }
  }

  async writeStdin(id: string, data: Buffer): Promise<void> {
    const e = this.get(id);
    if (e.stdin) await e.stdin.write(data);
  }

  async closeStdin(id: string): Promise<void> {
    const e = this.get(id);
    const fh = e.stdin;
    e.stdin = undefined;
    await fh?.close().catch(() => undefined);
    // the shim keeps its own writer on the FIFO; CloseIO releases it so the process reads EOF
    if (fh && e.running) {
      await this.cc.unary(this.cc.tasks, this.cc.tasks.closeIo, { containerId: e.containerId, execId: id, stdin: true }).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  async resize(id: string, width: number, height: number): Promise<void> {
    const e = this.get(id);
    if (!e.running) throw new FailedPreconditionError(`Exec ${id} is not running`);
    await this.cc.unary(this.cc.tasks, this.cc.tasks.resizePty, { containerId: e.containerId, execId: id, width, height });
  }

  inspect(id: string): supervisorV1.InspectExecResponse {
    const e = this.get(id);
    const cmd = e.req.cmd ?? [];
    return {
      id: e.id,
      containerId: e.containerId,
      running: e.running,
      exitCode: e.exitCode,
      pid: e.pid,
      openStdin: !!e.req.attachStdin,
      openStdout: !!e.req.attachStdout,
      openStderr: !!e.req.attachStderr,
      tty: !!e.req.tty,
      entrypoint: cmd[0] ?? '',
      arguments: cmd.slice(1),
      user: e.req.user ?? '',
      workingDir: e.req.workingDir ?? '',
      privileged: !!e.req.privileged,
    };
  }
}

async function* once(entry: LogEntryOut): AsyncIterable<LogEntryOut> {
  yield entry;
}

async function* empty(): AsyncIterable<LogEntryOut> {
  // nothing: detached execs stream no output
}
