import { join } from 'node:path';
import * as z from 'zod/mini';
import { buildQueueName } from '@drydock/build-jobs';
import { envInt, loadConfig } from '@drydock/config';

/** Environment -> validated builder configuration (main.ts is the only reader of process.env). */
const schema = z.pipe(
  z.object({
    DRYDOCK_STATE_DIR: z._default(z.string().check(z.minLength(1)), '/var/lib/drydock'),
    DRYDOCK_REDIS_URL: z._default(z.string(), 'redis://127.0.0.1:6379'),
    DRYDOCK_SUPERVISOR_ADDRESS: z._default(z.string(), '127.0.0.1:7701'),
    DRYDOCK_REGISTRY_PROXY_URL: z._default(z.url(), 'http://127.0.0.1:5100'),
    DRYDOCK_LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    // Builds one builder runs at once (each may run several independent stages concurrently).
    DRYDOCK_BUILDER_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(64)), 4),
    // BullMQ's job lock: a builder that dies loses its jobs to another after about this long.
    DRYDOCK_BUILDER_LOCK_MS: envInt(30000),
    DRYDOCK_BUILDER_STALLED_INTERVAL_MS: envInt(5000),
    DRYDOCK_BUILDER_MAX_STALLED: envInt(10),
    DRYDOCK_SUPERVISOR_CALL_TIMEOUT_MS: envInt(60000),
    // How long supervisor and registry-proxy outages (restarts) are waited out mid-build.
    DRYDOCK_BUILDER_RETRY_MS: envInt(300000),
    // Extracted context size limit (the gateway limits the upload the same way).
    DRYDOCK_BUILD_CONTEXT_MAX_BYTES: envInt(8 * 1024 * 1024 * 1024),
    DRYDOCK_BUILDER_WORK_DIR: z.optional(z.string()),
    // The queue this builder takes builds from (a cluster node's own, so builds run on the node they were sent to).
    DRYDOCK_BUILD_QUEUE: buildQueueName,
  }),
  z.transform((e) => ({
    redisUrl: e.DRYDOCK_REDIS_URL,
    supervisorAddress: e.DRYDOCK_SUPERVISOR_ADDRESS,
    registryProxyUrl: e.DRYDOCK_REGISTRY_PROXY_URL.replace(/\/+$/, ''),
    logLevel: e.DRYDOCK_LOG_LEVEL,
    concurrency: e.DRYDOCK_BUILDER_CONCURRENCY,
    lockDurationMs: e.DRYDOCK_BUILDER_LOCK_MS,
    stalledIntervalMs: e.DRYDOCK_BUILDER_STALLED_INTERVAL_MS,
    maxStalledCount: e.DRYDOCK_BUILDER_MAX_STALLED,
    callTimeoutMs: e.DRYDOCK_SUPERVISOR_CALL_TIMEOUT_MS,
    retryWindowMs: e.DRYDOCK_BUILDER_RETRY_MS,
    contextMaxBytes: e.DRYDOCK_BUILD_CONTEXT_MAX_BYTES,
    workDir: e.DRYDOCK_BUILDER_WORK_DIR ?? join(e.DRYDOCK_STATE_DIR, 'builder'),
    queue: e.DRYDOCK_BUILD_QUEUE,
  })),
);

export type BuilderConfig = z.infer<typeof schema>;

export function loadBuilderConfig(env: NodeJS.ProcessEnv): BuilderConfig {
  return loadConfig(schema, env);
}
