import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BUILD_KEYS_TTL_SECONDS, BUILD_QUEUE, buildKeys, CANCEL_CHANNEL, contextRepository, type BuildJob, type OutputEntry } from '@drydock/build-jobs';
import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import { httpCall } from '@drydock/runtime';
import type { Logger } from '@drydock/logging';

export interface BuildServiceOptions {
  registryProxyUrl: string;
  /** Uploaded context bytes a build may send (DRYDOCK_BUILD_CONTEXT_MAX_BYTES). */
  maxContextBytes: number;
}

/** What the build routes need (tests hand in a fake). */
export interface BuildBackend {
  newBuildId(): string;
  uploadContext(buildId: string, body: IncomingMessage): Promise<BuildJob['context']>;
  submit(job: BuildJob, registryConfig: Record<string, Record<string, unknown>>): Promise<void>;
  output(buildId: string, signal: AbortSignal): AsyncIterable<OutputEntry>;
  cancel(buildId: string): Promise<void>;
  dropContext(context: BuildJob['context']): Promise<void>;
}

/** Contexts up to this size are read whole and uploaded in one request. */
const SMALL_CONTEXT_BYTES = 1024 * 1024;

/** The body's first chunks, until more than `limit` bytes came (then paused) or it ended. */
function readUpTo(body: IncomingMessage, limit: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  // the handlers below come and go: an error no one else hears must not bring the gateway down
  body.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (ended: boolean) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (!ended) body.pause();
      resolve({ chunks, ended });
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > limit) done(false);
    };
    const onEnd = () => done(true);
    const onError = (err: Error) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
      reject(err);
    };
    // a client gone before the end: the upload fails as a streamed one would
    const onClose = () => {
      if (!body.readableEnded) onError(new Error('the client closed the request before its end'));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Redis and the build queue on it. */
export interface BuildQueueConnection {
  redis: Redis;
  queue: Queue;
}

/**
 * Connects lazily: Redis commands wait out a Redis restart. BullMQ and ioredis are loaded only here, on the
 * first build, so a gateway that never builds does not carry them (about 10 MB of resident memory).
 */
export async function connectBuildQueue(redisUrl: string, log: Logger, queueName = BUILD_QUEUE): Promise<BuildQueueConnection> {
  const [{ Redis }, { Queue }] = await Promise.all([import('ioredis'), import('bullmq')]);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', (err) => log.debug({ err }, 'redis connection error'));
  const queue = new Queue(queueName, { connection: redis.duplicate({ maxRetriesPerRequest: null }) });
  return { redis, queue };
}

/**
 * The gateway's side of builds: the context goes once into the registry-proxy's blob store, the build
 * onto the BullMQ queue, and its output comes back from the build's Redis stream. No build state here.
 */
export class BuildService implements BuildBackend {
  private readonly log: Logger;
  private conn?: Promise<BuildQueueConnection>;

  constructor(
    private readonly connect: () => Promise<BuildQueueConnection>,
    private readonly opts: BuildServiceOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'build-service' });
  }

  private connection(): Promise<BuildQueueConnection> {
    return (this.conn ??= this.connect());
  }

  newBuildId(): string {
    return randomBytes(16).toString('hex');
  }

  /**
   * Streams the request body into an upload of the registry-proxy, hashing it on the way. A small
   * context (most are: a Dockerfile and a few files) goes in one monolithic upload, one round trip.
   */
  async uploadContext(buildId: string, body: IncomingMessage): Promise<BuildJob['context']> {
    const repository = contextRepository(buildId);
    const base = this.opts.registryProxyUrl;
    const head = await readUpTo(body, Math.min(SMALL_CONTEXT_BYTES, this.opts.maxContextBytes));
    if (head.ended) {
      const data = Buffer.concat(head.chunks);
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      const res = await httpCall(`${base}/v2/${repository}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) } }).catch((err: Error) => {
        throw new UnavailableError(`the registry-proxy is not reachable for the build context: ${err.message}`);
      });
      if (res.status !== 201) throw new UnavailableError(`the registry-proxy did not store the build context (${res.status})`);
      return { repository, digest, size: data.length };
    }
    const start = await httpCall(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST' }).catch((err: Error) => {
      throw new UnavailableError(`the registry-proxy is not reachable for the build context: ${err.message}`);
    });
    const location = start.headers.location;
    if (start.status !== 202 || !location) throw new UnavailableError(`the registry-proxy refused the build context upload (${start.status})`);
    const url = new URL(location, base).toString();
    const hash = createHash('sha256');
    let size = 0;
    let tooBig = false;
    const pass = new PassThrough();
    for (const c of head.chunks) {
      size += c.length;
      hash.update(c);
      pass.write(c);
    }
    if (size > this.opts.maxContextBytes) {
      tooBig = true;
      body.destroy();
      pass.destroy(new Error('too large'));
    }
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.opts.maxContextBytes) {
        tooBig = true;
        body.destroy();
        pass.destroy(new Error('too large'));
        return;
      }
      hash.update(c);
      if (!pass.write(c)) {
        body.pause();
        pass.once('drain', () => body.resume());
      }
    });
    body.on('end', () => pass.end());
    body.on('error', (err) => pass.destroy(err));
    body.resume();
    try {
      const res = await httpCall(url, { method: 'PATCH', body: pass, headers: { 'Content-Type': 'application/octet-stream' } });
      if (res.status !== 202) throw new UnavailableError(`the registry-proxy refused the build context (${res.status})`);
      const digest = `sha256:${hash.digest('hex')}`;
      const next = new URL(res.headers.location ?? location, base);
      next.searchParams.set('digest', digest);
      const put = await httpCall(next, { method: 'PUT' });
      if (put.status !== 201) throw new UnavailableError(`the registry-proxy did not store the build context (${put.status})`);
      return { repository, digest, size };
    } catch (err) {
      await httpCall(url, { method: 'DELETE' }).catch(() => undefined);
      if (tooBig) throw new InvalidArgumentError(`the build context is larger than the limit of ${this.opts.maxContextBytes} bytes (DRYDOCK_BUILD_CONTEXT_MAX_BYTES)`);
      throw err;
    }
  }

  async dropContext(context: BuildJob['context']): Promise<void> {
    await httpCall(`${this.opts.registryProxyUrl}/v2/${context.repository}/blobs/${context.digest}`, { method: 'DELETE' }).catch(() => undefined);
  }

  async submit(job: BuildJob, registryConfig: Record<string, Record<string, unknown>>): Promise<void> {
    const keys = buildKeys(job.buildId);
    const { redis, queue } = await this.connection();
    // credentials stay out of the job (which Redis keeps in its append-only file for its lifetime)
    if (Object.keys(registryConfig).length) await redis.set(keys.auth, JSON.stringify(registryConfig), 'EX', BUILD_KEYS_TTL_SECONDS);
    await queue.add('build', job, { jobId: job.buildId, attempts: 1, removeOnComplete: { age: BUILD_KEYS_TTL_SECONDS }, removeOnFail: { age: BUILD_KEYS_TTL_SECONDS } });
    this.log.info({ buildId: job.buildId, contextBytes: job.context.size }, 'build queued');
  }

  /** The build's output entries as they come, up to its `end` or `error`; a job that died for good ends in an error. */
  async *output(buildId: string, signal: AbortSignal): AsyncIterable<OutputEntry> {
    const key = buildKeys(buildId).output;
    const { redis, queue } = await this.connection();
    const conn = redis.duplicate({ maxRetriesPerRequest: null });
    conn.on('error', () => undefined);
    const stop = () => conn.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let last = '0';
    try {
      while (!signal.aborted) {
        const res = (await conn.xread('COUNT', 200, 'BLOCK', 2000, 'STREAMS', key, last).catch((err) => {
          if (signal.aborted) return null;
          throw err;
        })) as [string, [string, string[]][]][] | null;
        if (!res) {
          const job = await queue.getJob(buildId);
          const state = job ? await job.getState() : 'unknown';
          if (state === 'failed' || state === 'unknown') {
            // nothing more will come: the job failed without writing its end (its builders kept dying)
            const again = (await conn.xrange(key, last === '0' ? '-' : `(${last}`, '+')) as [string, string[]][];
            if (again.length > 0) continue;
            yield { kind: 'error', step: 0, message: job?.failedReason || 'the build was lost', httpStatus: 500 };
            return;
          }
          continue;
        }
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            last = id;
            const e = JSON.parse(fields[1]) as OutputEntry;
            yield e;
            if (e.kind !== 'msg') return;
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      conn.disconnect();
    }
  }

  /** The client went away: the key survives builder restarts, the message reaches the running builder now. */
  async cancel(buildId: string): Promise<void> {
    const { redis } = await this.connection();
    await redis.set(buildKeys(buildId).cancel, '1', 'EX', BUILD_KEYS_TTL_SECONDS);
    await redis.publish(CANCEL_CHANNEL, buildId);
  }

  async close(): Promise<void> {
    if (!this.conn) return;
    const { redis, queue } = await this.conn;
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
