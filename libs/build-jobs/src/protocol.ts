// zod/mini: tree-shakes, unlike full zod (this module is in the gateway and builder bundles).
import * as z from 'zod/mini';

/** The BullMQ queue builds go on (DRYDOCK_BUILD_QUEUE's default: one queue for a single node's builders). */
export const BUILD_QUEUE = 'drydock-builds';
/** DRYDOCK_BUILD_QUEUE: a cluster gives each node a queue of its own, so a build runs on the node it was sent to. */
export const buildQueueName = z._default(z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 letters, digits, ., - or _ (BullMQ forbids :)')), BUILD_QUEUE);

/** Where build contexts go in the registry-proxy: scratch, kept without fsyncs (a lost one is a lost build anyway). */
export const CONTEXT_REPOSITORY_PREFIX = 'drydock/build-context/';

/** The registry-proxy repository build contexts are uploaded to (one per build, unlinked when it ends). */
export const contextRepository = (buildId: string) => `${CONTEXT_REPOSITORY_PREFIX}${buildId}`;

/** Redis keys of one build. */
export const buildKeys = (buildId: string) => ({
  /** Stream of output entries (field `m`, an OutputEntry as JSON), in the order the client sees them. */
  output: `drydock:build:${buildId}:out`,
  /** X-Registry-Config as the client sent it (JSON of AuthConfigs), with a TTL; never in the job's data. */
  auth: `drydock:build:${buildId}:auth`,
  /** Set when the client went away: the build stops at the next step (and kills a running step). */
  cancel: `drydock:build:${buildId}:cancel`,
});

/** Pub/sub channel carrying the ids of cancelled builds (the key above is the durable part). */
export const CANCEL_CHANNEL = 'drydock:build:cancel';

/** How long a build's keys outlive it (output for a reconnecting gateway, nothing else reads them). */
export const BUILD_KEYS_TTL_SECONDS = 3600;

/** `POST /build` query parameters as dockerd's newImageBuildOptions reads them. */
export const buildOptionsSchema = z.object({
  dockerfile: z.string(),
  tags: z.array(z.string()),
  /** --build-arg; null: named without a value and not in the client's environment. */
  buildArgs: z.record(z.string(), z.nullable(z.string())),
  noCache: z.boolean(),
  pull: z.boolean(),
  remove: z.boolean(),
  forceRemove: z.boolean(),
  target: z.string(),
  labels: z.record(z.string(), z.string()),
  cacheFrom: z.array(z.string()),
  networkMode: z.string(),
  platform: z.string(),
  quiet: z.boolean(),
  memory: z.number(),
  memorySwap: z.number(),
  cpuShares: z.number(),
  cpuPeriod: z.number(),
  cpuQuota: z.number(),
  cpusetCpus: z.string(),
  cpusetMems: z.string(),
  shmSize: z.number(),
  extraHosts: z.array(z.string()),
  cgroupParent: z.string(),
});
export type BuildOptions = z.infer<typeof buildOptionsSchema>;

export const buildJobSchema = z.object({
  buildId: z.string(),
  /** The context blob in the registry-proxy (as uploaded: tar, gzip, bzip2 or xz). */
  context: z.object({ repository: z.string(), digest: z.string(), size: z.number() }),
  options: buildOptionsSchema,
  /** The client's API version (aux messages from 1.30 on). */
  apiVersion: z.string(),
});
export type BuildJob = z.infer<typeof buildJobSchema>;

/**
 * One entry of a build's output stream. `msg` is a JSON message exactly as dockerd writes it
 * (`{"stream":…}`, `{"status":…,"id":…}`, `{"aux":…}`); the last entry is `end` or `error`.
 * `step` is the Dockerfile step the entry belongs to (0 before the first): a retried job uses it to
 * skip what the client already saw.
 */
export type OutputEntry =
  | { kind: 'msg'; step: number; msg: Record<string, unknown>; stepLine?: boolean; stepDone?: boolean }
  | { kind: 'end'; step: number; imageId: string }
  | { kind: 'error'; step: number; message: string; code?: number; httpStatus: number };
