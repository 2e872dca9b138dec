import * as z from 'zod/mini';
import { envInt, envNatsReplicas, envNatsServers, loadConfig } from '@drydock/config';

/** Environment -> validated scheduler configuration (main.ts is the only reader of process.env). */
const schema = z.pipe(
  z.object({
    DRYDOCK_NATS_URL: envNatsServers(),
    DRYDOCK_SCHEDULER_LISTEN: z._default(z.string().check(z.regex(/^[^\s]+:\d+$/, 'expected host:port')), '127.0.0.1:7702'),
    // Classic Swarm's --strategy; spread is its default.
    DRYDOCK_SCHEDULER_STRATEGY: z._default(z.enum(['spread', 'binpack', 'random']), 'spread'),
    // Swarm's swarm.overcommit (0.05): node totals grow by this many percent.
    DRYDOCK_SCHEDULER_OVERCOMMIT_PERCENT: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(100)), 5),
    // Beats come every 5 s: one missed beat and 3 s of lateness mark a node down, within 10 s of its last beat.
    DRYDOCK_SCHEDULER_NODE_DOWN_AFTER_MS: envInt(8000),
    // The nodes bucket's max age when the scheduler creates it (the supervisors' default).
    DRYDOCK_HEARTBEAT_TTL_MS: envInt(15000),
    // JetStream replicas of the buckets the scheduler creates (3 in a three-server NATS cluster).
    DRYDOCK_NATS_REPLICAS: envNatsReplicas(),
    DRYDOCK_NATS_TIMEOUT_MS: envInt(5000),
    DRYDOCK_LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    DRYDOCK_SHUTDOWN_GRACE_MS: envInt(5000),
    // How often lost nodes' opted-in containers are looked for: decided within down delay + this of the last beat.
    DRYDOCK_SCHEDULER_RESCHEDULE_INTERVAL_MS: envInt(1000),
  }),
  z.transform((e) => ({
    natsServers: e.DRYDOCK_NATS_URL,
    listen: e.DRYDOCK_SCHEDULER_LISTEN,
    strategy: e.DRYDOCK_SCHEDULER_STRATEGY,
    overcommitPercent: e.DRYDOCK_SCHEDULER_OVERCOMMIT_PERCENT,
    nodeDownAfterMs: e.DRYDOCK_SCHEDULER_NODE_DOWN_AFTER_MS,
    heartbeatTtlMs: e.DRYDOCK_HEARTBEAT_TTL_MS,
    natsReplicas: e.DRYDOCK_NATS_REPLICAS,
    natsTimeoutMs: e.DRYDOCK_NATS_TIMEOUT_MS,
    logLevel: e.DRYDOCK_LOG_LEVEL,
    shutdownGraceMs: e.DRYDOCK_SHUTDOWN_GRACE_MS,
    rescheduleIntervalMs: e.DRYDOCK_SCHEDULER_RESCHEDULE_INTERVAL_MS,
  })),
);

export type SchedulerConfig = z.infer<typeof schema>;

export function loadSchedulerConfig(env: NodeJS.ProcessEnv): SchedulerConfig {
  return loadConfig(schema, env);
}
