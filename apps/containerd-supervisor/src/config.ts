import { join } from 'node:path';
import * as z from 'zod/mini';
import { envBool, envInt, envNatsReplicas, envNatsServers, loadConfig } from '@drydock/config';
import { DOCKER_POOLS } from './networks/cidr';
import { NETWORK_CRASH_POINTS, type NetworkCrashPoint } from './networks/crash-points';

const crashPoint = `(${NETWORK_CRASH_POINTS.join('|')})`;

/** Environment -> validated supervisor configuration (the only reader of process.env is main.ts). */
const schema = z.pipe(
  z.object({
    DRYDOCK_STATE_DIR: z._default(z.string().check(z.minLength(1)), '/var/lib/drydock'),
    DRYDOCK_CONTAINERD_ADDRESS: z.optional(z.string()),
    DRYDOCK_CONTAINERD_NAMESPACE: z._default(z.string().check(z.regex(/^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$/)), 'drydock'),
    DRYDOCK_CONTAINERD_CALL_TIMEOUT_MS: envInt(30000),
    DRYDOCK_NATS_URL: envNatsServers(),
    // replicas of the events stream, the nodes and the directory buckets when this node creates them
    DRYDOCK_NATS_REPLICAS: envNatsReplicas(),
    DRYDOCK_SUPERVISOR_LISTEN: z._default(z.string(), '127.0.0.1:7701'),
    DRYDOCK_NODE_NAME: z.optional(z.string()),
    DRYDOCK_NODE_LABELS: z._default(z.string(), ''),
    // A node of a cluster: container names are taken cluster-wide and the node's containers are
    // kept in the container directory (NATS KV). Unset: a single node, with no dependency on NATS.
    DRYDOCK_CLUSTER: envBool(false),
    DRYDOCK_LOGGER_BINARY: z.optional(z.string()),
    // The embedded DNS of user networks (native/drydock-dns.c); default beside the logger in dist/native.
    DRYDOCK_DNS_BINARY: z.optional(z.string()),
    DRYDOCK_LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    DRYDOCK_HEARTBEAT_INTERVAL_MS: envInt(5000),
    DRYDOCK_HEARTBEAT_TTL_MS: envInt(15000),
    DRYDOCK_SHUTDOWN_GRACE_MS: envInt(5000),
    DRYDOCK_CGROUP_PARENT: z._default(z.string(), '/drydock'),
    DRYDOCK_REGISTRY_PROXY_URL: z._default(z.url(), 'http://127.0.0.1:5100'),
    // Pull/push tuning: dockerd's max-concurrent-downloads/uploads defaults.
    DRYDOCK_PULL_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(32)), 3),
    DRYDOCK_PUSH_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(32)), 5),
    // How long transient registry-proxy failures (restart, 502) are retried before a pull or push fails.
    DRYDOCK_REGISTRY_RETRY_MS: envInt(60000),
    // No byte from the proxy for this long counts as a dead connection (then retried).
    DRYDOCK_REGISTRY_IDLE_TIMEOUT_MS: envInt(30000),
    // zlib level for layers compressed at push time (docker import stores them uncompressed). Measured on
    // 100 MB of shared libraries: level 1 104 MB/s at 35.5 %, level 6 (Docker's) 37 MB/s at 32.3 %.
    DRYDOCK_PUSH_GZIP_LEVEL: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(9)), 1),
    // Pulled layers are written straight into containerd's ingest files when they are reachable from here
    // (probed at start); false forces Content.Write over gRPC.
    DRYDOCK_PULL_DIRECT_INGEST: envBool(true),
    // Networking: the default network's host bridge (never docker0: dockerd --bridge=none deletes it),
    // the prefix of user networks' bridges, the candidate subnets ("cidr[:size]", dockerd's by default),
    // the prefix of Drydock's iptables chains, and where the CNI plugins are.
    DRYDOCK_BRIDGE_NAME: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,15}$/)), 'drydock0'),
    DRYDOCK_BRIDGE_PREFIX: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,7}$/)), 'br-'),
    DRYDOCK_NETWORK_POOLS: z._default(z.string().check(z.regex(/^\d+\.\d+\.\d+\.\d+\/\d+(:\d+)?(,\d+\.\d+\.\d+\.\d+\/\d+(:\d+)?)*$/)), DOCKER_POOLS.join(',')),
    DRYDOCK_IPTABLES_CHAIN_PREFIX: z._default(z.string().check(z.regex(/^[A-Z0-9_-]{1,12}$/)), 'DRYDOCK'),
    DRYDOCK_CNI_PATH: z._default(z.string().check(z.minLength(1)), '/usr/lib/cni'),
    DRYDOCK_HOST_RESOLV_CONF: z._default(z.string().check(z.minLength(1)), '/etc/resolv.conf'),
    // Overlay networks: this node's underlay address (the VXLAN devices' local end; default: the host of
    // DRYDOCK_SUPERVISOR_LISTEN when it is a concrete address, else 127.0.0.1), the candidate subnets of
    // overlays made without one (dockerd's swarm default 10.0.0.0/8 in /24s), their bridges' prefix, and
    // how long a node's heartbeats may stop before its endpoints are left out (the scheduler's node-down time).
    DRYDOCK_OVERLAY_ADDRESS: z.optional(z.ipv4()),
    DRYDOCK_OVERLAY_POOLS: z._default(z.string().check(z.regex(/^\d+\.\d+\.\d+\.\d+\/\d+(:\d+)?(,\d+\.\d+\.\d+\.\d+\/\d+(:\d+)?)*$/)), '10.0.0.0/8:24'),
    DRYDOCK_OVERLAY_BRIDGE_PREFIX: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,7}$/)), 'ov-'),
    DRYDOCK_NODE_DOWN_AFTER_MS: envInt(8000),
    // Legacy (v1) plugins, found where dockerd finds them: sockets, then spec files (comma-separated dirs).
    DRYDOCK_PLUGIN_SOCKETS_DIR: z._default(z.string().check(z.minLength(1)), '/run/docker/plugins'),
    DRYDOCK_PLUGIN_SPECS_DIRS: z._default(z.string(), '/etc/docker/plugins,/usr/lib/docker/plugins'),
    // Plugin call deadlines (dockerd: 2 minutes for Create and Mount, 1 minute for the rest).
    DRYDOCK_PLUGIN_LONG_TIMEOUT_MS: envInt(120000),
    DRYDOCK_PLUGIN_SHORT_TIMEOUT_MS: envInt(60000),
    // How long a plugin that is not there yet is looked for, and a socket that refuses is retried (dockerd: 30 s).
    DRYDOCK_PLUGIN_RETRY_MS: envInt(30000),
    // Managed plugins: their containerd namespace, and where their sockets live (<dir>/<id12>/<Socket>;
    // kept short: a unix socket path has at most 107 bytes).
    DRYDOCK_PLUGIN_NAMESPACE: z._default(z.string().check(z.regex(/^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$/)), 'drydock-plugins'),
    DRYDOCK_PLUGIN_RUN_DIR: z._default(z.string().check(z.minLength(1)), '/run/drydock/plugins'),
    // dockerd's post-start dial of a plugin's socket: first wait, wait between retries, retries (500 ms, 3 s, 3).
    DRYDOCK_PLUGIN_DIAL_FIRST_MS: envInt(500),
    DRYDOCK_PLUGIN_DIAL_RETRY_MS: envInt(3000),
    DRYDOCK_PLUGIN_DIAL_RETRIES: envInt(3),
    // What `volume ls`, `docker info` and prune wait for volume plugins before answering without them.
    DRYDOCK_VOLUME_LIST_BUDGET_MS: envInt(5000),
    // TEST HOOK, never set on a node: "<point>[,<point>]" of networks/crash-points.ts; the supervisor
    // SIGKILLs itself when it reaches one, so integration tests can crash it between two steps.
    DRYDOCK_SUPERVISOR_CRASH_AT: z._default(z.string().check(z.regex(new RegExp(`^(${crashPoint}(,${crashPoint})*)?$`), 'expected a comma-separated list of crash points')), ''),
  }),
  z.transform((e) => ({
    stateDir: e.DRYDOCK_STATE_DIR,
    containerdAddress: e.DRYDOCK_CONTAINERD_ADDRESS ?? join(e.DRYDOCK_STATE_DIR, 'containerd', 'c.sock'),
    namespace: e.DRYDOCK_CONTAINERD_NAMESPACE,
    containerdCallTimeoutMs: e.DRYDOCK_CONTAINERD_CALL_TIMEOUT_MS,
    natsServers: e.DRYDOCK_NATS_URL,
    natsReplicas: e.DRYDOCK_NATS_REPLICAS,
    listen: e.DRYDOCK_SUPERVISOR_LISTEN,
    nodeName: e.DRYDOCK_NODE_NAME,
    nodeLabels: e.DRYDOCK_NODE_LABELS,
    cluster: e.DRYDOCK_CLUSTER,
    loggerBinary: e.DRYDOCK_LOGGER_BINARY,
    dnsBinary: e.DRYDOCK_DNS_BINARY,
    logLevel: e.DRYDOCK_LOG_LEVEL,
    heartbeatIntervalMs: e.DRYDOCK_HEARTBEAT_INTERVAL_MS,
    heartbeatTtlMs: e.DRYDOCK_HEARTBEAT_TTL_MS,
    shutdownGraceMs: e.DRYDOCK_SHUTDOWN_GRACE_MS,
    cgroupParent: e.DRYDOCK_CGROUP_PARENT,
    registryProxyUrl: e.DRYDOCK_REGISTRY_PROXY_URL,
    distribution: {
      maxConcurrentDownloads: e.DRYDOCK_PULL_CONCURRENCY,
      maxConcurrentUploads: e.DRYDOCK_PUSH_CONCURRENCY,
      retryWindowMs: e.DRYDOCK_REGISTRY_RETRY_MS,
      idleTimeoutMs: e.DRYDOCK_REGISTRY_IDLE_TIMEOUT_MS,
      gzipLevel: e.DRYDOCK_PUSH_GZIP_LEVEL,
      directIngest: e.DRYDOCK_PULL_DIRECT_INGEST,
    },
    network: {
      stateDir: join(e.DRYDOCK_STATE_DIR, 'supervisor', 'network'),
      defaultBridge: e.DRYDOCK_BRIDGE_NAME,
      bridgePrefix: e.DRYDOCK_BRIDGE_PREFIX,
      pools: e.DRYDOCK_NETWORK_POOLS.split(','),
      chainPrefix: e.DRYDOCK_IPTABLES_CHAIN_PREFIX,
      cniPath: e.DRYDOCK_CNI_PATH,
      hostResolvConf: e.DRYDOCK_HOST_RESOLV_CONF,
    },
    overlay: {
      address: e.DRYDOCK_OVERLAY_ADDRESS ?? underlayOf(e.DRYDOCK_SUPERVISOR_LISTEN),
      pools: e.DRYDOCK_OVERLAY_POOLS.split(','),
      bridgePrefix: e.DRYDOCK_OVERLAY_BRIDGE_PREFIX,
      nodeDownAfterMs: e.DRYDOCK_NODE_DOWN_AFTER_MS,
    },
    plugins: {
      socketsDir: e.DRYDOCK_PLUGIN_SOCKETS_DIR,
      specsDirs: e.DRYDOCK_PLUGIN_SPECS_DIRS.split(',').filter(Boolean),
      longTimeoutMs: e.DRYDOCK_PLUGIN_LONG_TIMEOUT_MS,
      shortTimeoutMs: e.DRYDOCK_PLUGIN_SHORT_TIMEOUT_MS,
      retryMs: e.DRYDOCK_PLUGIN_RETRY_MS,
      volumeListBudgetMs: e.DRYDOCK_VOLUME_LIST_BUDGET_MS,
      namespace: e.DRYDOCK_PLUGIN_NAMESPACE,
      runDir: e.DRYDOCK_PLUGIN_RUN_DIR,
      dialFirstMs: e.DRYDOCK_PLUGIN_DIAL_FIRST_MS,
      dialRetryMs: e.DRYDOCK_PLUGIN_DIAL_RETRY_MS,
      dialRetries: e.DRYDOCK_PLUGIN_DIAL_RETRIES,
    },
    crashAt: e.DRYDOCK_SUPERVISOR_CRASH_AT ? (e.DRYDOCK_SUPERVISOR_CRASH_AT.split(',') as NetworkCrashPoint[]) : [],
  })),
);

export type SupervisorConfig = z.infer<typeof schema>;

export function loadSupervisorConfig(env: NodeJS.ProcessEnv): SupervisorConfig {
  return loadConfig(schema, env);
}

/** The listen address's host when it is a concrete IPv4 address other nodes can reach; else loopback (a node alone). */
export function underlayOf(listen: string): string {
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== '0.0.0.0' && !host.startsWith('127.') ? host : '127.0.0.1';
}
