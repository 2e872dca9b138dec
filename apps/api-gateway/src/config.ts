import * as z from 'zod/mini';
import { buildQueueName } from '@drydock/build-jobs';
import { envBool, envInt, envNatsReplicas, envNatsServers, loadConfig } from '@drydock/config';

/** Environment -> validated gateway configuration (main.ts passes process.env). */
const schema = z.pipe(
  z
    .object({
      DRYDOCK_GATEWAY_SOCKET: z._default(z.string(), '/run/drydock/docker.sock'),
      // octal text, like chmod
      DRYDOCK_GATEWAY_SOCKET_MODE: z._default(z.string().check(z.regex(/^[0-7]{3,4}$/)), '0660'),
      DRYDOCK_GATEWAY_TCP: z.optional(z.string().check(z.regex(/^[^:]+:\d+$/, 'expected host:port'))),
      DRYDOCK_GATEWAY_TLS_CERT: z.optional(z.string()),
      DRYDOCK_GATEWAY_TLS_KEY: z.optional(z.string()),
      DRYDOCK_GATEWAY_TLS_CA: z.optional(z.string()),
      DRYDOCK_GATEWAY_INSECURE_TCP: envBool(false),
      DRYDOCK_SUPERVISOR_ADDRESS: z._default(z.string(), '127.0.0.1:7701'),
      DRYDOCK_NATS_URL: envNatsServers(),
      // replicas of any stream or KV bucket the gateway creates
      DRYDOCK_NATS_REPLICAS: envNatsReplicas(),
      // A door to a whole cluster: ids and names resolve on every node, creates that ask for placement
      // go through the scheduler. Unset: the single node of DRYDOCK_SUPERVISOR_ADDRESS, without NATS or a scheduler.
      DRYDOCK_CLUSTER: envBool(false),
      DRYDOCK_SCHEDULER_ADDRESS: z._default(z.string().check(z.regex(/^[^\s]+:\d+$/, 'expected host:port')), '127.0.0.1:7702'),
      // How long a placement is retried while the scheduler is unavailable (restarting).
      DRYDOCK_SCHEDULER_RETRY_MS: envInt(30000),
      // A node with no heartbeat for this long is down (the scheduler's DRYDOCK_SCHEDULER_NODE_DOWN_AFTER_MS).
      DRYDOCK_NODE_DOWN_AFTER_MS: envInt(8000),
      // Shown by `docker info` in a cluster (the scheduler's DRYDOCK_SCHEDULER_STRATEGY).
      DRYDOCK_SCHEDULER_STRATEGY: z._default(z.enum(['spread', 'binpack', 'random']), 'spread'),
      // The registry-proxy's control endpoints (docker login, search); pulls and pushes go through the supervisor.
      DRYDOCK_REGISTRY_PROXY_URL: z._default(z.string().check(z.regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http(s)://host:port')), 'http://127.0.0.1:5100'),
      DRYDOCK_GATEWAY_CALL_TIMEOUT_MS: envInt(60000),
      DRYDOCK_GATEWAY_MAX_JSON_BYTES: envInt(4 * 1024 * 1024),
      DRYDOCK_LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
      // Builds: their queue and output live in Redis; the context upload is limited (dockerd has no limit).
      DRYDOCK_REDIS_URL: z._default(z.string(), 'redis://127.0.0.1:6379'),
      DRYDOCK_BUILD_CONTEXT_MAX_BYTES: envInt(8 * 1024 * 1024 * 1024),
      DRYDOCK_BUILD_QUEUE: buildQueueName,
      // dockerd's --authorization-plugin: names asked in order for every request; unset, no authorization step at all.
      DRYDOCK_GATEWAY_AUTHZ_PLUGINS: z._default(z.string().check(z.regex(/^\s*([A-Za-z0-9][\w.:/@-]*\s*(,\s*[A-Za-z0-9][\w.:/@-]*\s*)*)?$/, 'expected plugin names separated by commas')), ''),
      // One AuthZReq/AuthZRes call's deadline: a plugin that does not answer in time denies.
      DRYDOCK_GATEWAY_AUTHZ_TIMEOUT_MS: envInt(10000),
      // Where plugins are found (the supervisor's settings of the same names).
      DRYDOCK_PLUGIN_SOCKETS_DIR: z._default(z.string().check(z.minLength(1)), '/run/docker/plugins'),
      DRYDOCK_PLUGIN_SPECS_DIRS: z._default(z.string(), '/etc/docker/plugins,/usr/lib/docker/plugins'),
      DRYDOCK_PLUGIN_RUN_DIR: z._default(z.string().check(z.minLength(1)), '/run/drydock/plugins'),
    })
    .check(
      z.superRefine((e, ctx) => {
        if (!e.DRYDOCK_GATEWAY_TCP) return;
        const tls = [e.DRYDOCK_GATEWAY_TLS_CERT, e.DRYDOCK_GATEWAY_TLS_KEY, e.DRYDOCK_GATEWAY_TLS_CA];
        const host = e.DRYDOCK_GATEWAY_TCP.slice(0, e.DRYDOCK_GATEWAY_TCP.lastIndexOf(':'));
        if (tls.every(Boolean)) return;
        if (tls.some(Boolean)) {
          ctx.addIssue({ code: 'custom', path: ['DRYDOCK_GATEWAY_TLS_CERT'], message: 'TCP with TLS needs DRYDOCK_GATEWAY_TLS_CERT, _KEY and _CA (client certificates are verified)' });
          return;
        }
        if (!e.DRYDOCK_GATEWAY_INSECURE_TCP) {
          ctx.addIssue({ code: 'custom', path: ['DRYDOCK_GATEWAY_TCP'], message: 'plain TCP needs DRYDOCK_GATEWAY_INSECURE_TCP=true (and is allowed on loopback only); otherwise configure TLS' });
        } else if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
          ctx.addIssue({ code: 'custom', path: ['DRYDOCK_GATEWAY_TCP'], message: 'plain TCP is allowed on loopback only' });
        }
      }),
    ),
  z.transform((e) => ({
    socketPath: e.DRYDOCK_GATEWAY_SOCKET,
    socketMode: parseInt(e.DRYDOCK_GATEWAY_SOCKET_MODE, 8),
    tcp: e.DRYDOCK_GATEWAY_TCP,
    tls: e.DRYDOCK_GATEWAY_TLS_CERT ? { cert: e.DRYDOCK_GATEWAY_TLS_CERT, key: e.DRYDOCK_GATEWAY_TLS_KEY!, ca: e.DRYDOCK_GATEWAY_TLS_CA! } : undefined,
    supervisorAddress: e.DRYDOCK_SUPERVISOR_ADDRESS,
    natsServers: e.DRYDOCK_NATS_URL,
    natsReplicas: e.DRYDOCK_NATS_REPLICAS,
    cluster: e.DRYDOCK_CLUSTER
      ? { schedulerAddress: e.DRYDOCK_SCHEDULER_ADDRESS, schedulerRetryMs: e.DRYDOCK_SCHEDULER_RETRY_MS, nodeDownAfterMs: e.DRYDOCK_NODE_DOWN_AFTER_MS, strategy: e.DRYDOCK_SCHEDULER_STRATEGY, kvReplicas: e.DRYDOCK_NATS_REPLICAS }
      : undefined,
    registryProxyUrl: e.DRYDOCK_REGISTRY_PROXY_URL.replace(/\/$/, ''),
    callTimeoutMs: e.DRYDOCK_GATEWAY_CALL_TIMEOUT_MS,
    maxJsonBytes: e.DRYDOCK_GATEWAY_MAX_JSON_BYTES,
    logLevel: e.DRYDOCK_LOG_LEVEL,
    redisUrl: e.DRYDOCK_REDIS_URL,
    buildContextMaxBytes: e.DRYDOCK_BUILD_CONTEXT_MAX_BYTES,
    buildQueue: e.DRYDOCK_BUILD_QUEUE,
    authz: {
      plugins: e.DRYDOCK_GATEWAY_AUTHZ_PLUGINS.split(',').map((n) => n.trim()).filter(Boolean),
      timeoutMs: e.DRYDOCK_GATEWAY_AUTHZ_TIMEOUT_MS,
      socketsDir: e.DRYDOCK_PLUGIN_SOCKETS_DIR,
      specsDirs: e.DRYDOCK_PLUGIN_SPECS_DIRS.split(',').map((d) => d.trim()).filter(Boolean),
      runDir: e.DRYDOCK_PLUGIN_RUN_DIR,
    },
  })),
);

export type GatewayConfig = z.infer<typeof schema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  return loadConfig(schema, env);
}
