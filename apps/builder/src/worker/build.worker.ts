import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { BUILD_KEYS_TTL_SECONDS, BUILD_QUEUE, buildJobSchema, buildKeys, CANCEL_CHANNEL, type BuildJob, type OutputEntry } from '@drydock/build-jobs';
import { findDrydockError, toHttpError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { BuildBackend } from '../backend/ports';
import { BuildCancelledError, StepError } from '../dockerfile/dispatcher';
import { OrderedOutput, ReplayFilter } from '../output/ordered-output';
import type { BuildRunner } from './build-runner';

export interface BuildWorkerOptions {
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How often a job whose builder died may be handed to another builder. */
  maxStalledCount: number;
  /** The BullMQ queue to take builds from; default BUILD_QUEUE. */
  queue?: string;
}

/** Drops what a build left in the context store (its blob link) once the build is over. */
export interface ContextCleanup {
  remove(job: BuildJob): Promise<void>;
}

/**
 * The BullMQ side of a builder: takes build jobs, streams their output to Redis, cancels them when the
 * client went away, and cleans up after a previous attempt of the same job (its step containers).
 */
export class BuildWorker {
  private worker?: Worker;
  private readonly log: Logger;
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly connection: Redis,
    private readonly subscriber: Redis,
    private readonly runner: BuildRunner,
    private readonly backend: BuildBackend,
    private readonly contexts: ContextCleanup,
    private readonly opts: BuildWorkerOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'build-worker' });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(CANCEL_CHANNEL);
    this.subscriber.on('message', (_ch: string, id: string) => this.running.get(id)?.abort());
    this.worker = new Worker(this.opts.queue ?? BUILD_QUEUE, (job) => this.process(job), {
      connection: this.connection.duplicate({ maxRetriesPerRequest: null }),
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs,
      maxStalledCount: this.opts.maxStalledCount,
      autorun: true,
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'worker error'));
    this.worker.on('failed', (job, err) => this.log.info({ buildId: job?.id, err: err.message }, 'build failed'));
  }

  private async append(key: string, e: OutputEntry): Promise<void> {
    await this.connection.xadd(key, '*', 'm', JSON.stringify(e));
  }

  private async previousOutput(key: string): Promise<OutputEntry[]> {
    const rows = (await this.connection.xrange(key, '-', '+')) as [string, string[]][];
    return rows.map(([, fields]) => JSON.parse(fields[1]) as OutputEntry);
  }

  async process(job: Job): Promise<string> {
    const data = buildJobSchema.parse(job.data);
    const keys = buildKeys(data.buildId);
    const log = this.log.child({ buildId: data.buildId, attempt: job.attemptsMade + 1 });
    log.debug({ queuedMs: Date.now() - job.timestamp }, 'build taken');
    const ac = new AbortController();
    this.running.set(data.buildId, ac);
    // a previous attempt that died (builder killed) may have left a step container running: removed while
    // the context is fetched, before any step runs
    const leftovers = (async () => {
      for (const id of await this.backend.listContainers(`drydock.build.id=${data.buildId}`)) {
        log.info({ containerId: id }, 'removing a step container of an earlier attempt');
        await this.backend.removeContainer(id);
      }
    })();
    leftovers.catch(() => undefined);
    const [cancelled, previous, authJson] = await Promise.all([this.connection.exists(keys.cancel), this.previousOutput(keys.output), this.connection.get(keys.auth)]);
    if (cancelled) ac.abort();
    const replay = new ReplayFilter(previous);
    if (previous.length) log.info({ entries: previous.length }, 'resuming a build another builder began');
    const out = new OrderedOutput(async (e) => {
      if (replay.pass(e)) await this.append(keys.output, e);
    });
    let auth: Record<string, Record<string, unknown>> = {};
    try {
      auth = JSON.parse(authJson ?? '{}') as Record<string, Record<string, unknown>>;
    } catch {
      auth = {};
    }
    try {
      const imageId = await this.runner.run(data, auth, out, ac.signal, leftovers);
      await this.append(keys.output, { kind: 'end', step: 0, imageId });
      await this.runner.removeWorkDir(data);
      await this.finish(data, keys);
      return imageId;
    } catch (err) {
      await out.flush().catch(() => undefined);
      const cancelled = ac.signal.aborted || err instanceof BuildCancelledError;
      const message = cancelled ? 'Build cancelled' : findDrydockError(err)?.message ?? (err instanceof Error ? err.message : String(err));
      const httpStatus = findDrydockError(err) ? toHttpError(err).status : 500;
      log.info({ err: message }, cancelled ? 'build cancelled' : 'build error');
      await this.append(keys.output, { kind: 'error', step: 0, message, httpStatus, ...(err instanceof StepError ? { code: err.exitCode } : {}) });
      await this.finish(data, keys);
      // the build's own failure is final: only a builder that dies hands the job to another
      throw new UnrecoverableError(message);
    } finally {
      this.running.delete(data.buildId);
      for (const id of await this.backend.listContainers(`drydock.build.id=${data.buildId}`).catch(() => [] as string[])) {
        // --rm=false keeps step containers on purpose; anything still running is a leftover of a failure
        if (!data.options.remove && !data.options.forceRemove) continue;
        await this.backend.removeContainer(id).catch(() => undefined);
      }
    }
  }

  private async finish(job: BuildJob, keys: ReturnType<typeof buildKeys>): Promise<void> {
    await this.connection.del(keys.auth, keys.cancel);
    await this.connection.expire(keys.output, BUILD_KEYS_TTL_SECONDS);
    await this.contexts.remove(job).catch((err) => this.log.warn({ err, buildId: job.buildId }, 'context removal failed'));
  }

  /** Stops taking jobs; a running build is left to BullMQ's stalled-job handling (another builder resumes it). */
  async close(): Promise<void> {
    await this.worker?.close(true).catch(() => undefined);
    await this.subscriber.quit().catch(() => undefined);
  }
}
