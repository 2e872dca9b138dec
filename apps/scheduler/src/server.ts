import { Server, ServerCredentials } from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import { schedulerV1 } from '@drydock/proto';
import type { Logger } from '@drydock/logging';
import type { SchedulerConfig } from './config';
import { DIRECTORY_BUCKET, NODES_BUCKET } from '@drydock/cluster';
import { CoalescedKv } from './cluster/coalesced-kv';
import { NodeView } from './cluster/node-view';
import { Placer } from './cluster/placer';
import { RecordWriter } from './cluster/record-writer';
import { Rescheduler } from './cluster/rescheduler';
import { NodeIndex } from './placement/node-index';
import { createStrategy } from './placement/strategies';
import { Handlers } from './grpc/handlers';
import { schedulerService } from './grpc/scheduler.service';

export interface RunningScheduler {
  port: number;
  view: NodeView;
  /** Its sweeps run on their own; tests call sweep() to race two schedulers. */
  rescheduler: Rescheduler;
  /** Stops serving (in-flight calls finish), the watches and NATS. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to NATS, opens (or creates) the nodes and directory buckets, follows them and
 * serves the gRPC API. Shared by main.ts and the integration tests, which run several.
 */
export async function startScheduler(config: SchedulerConfig, logger: Logger): Promise<RunningScheduler> {
  const log = logger.child({ component: 'scheduler' });
  const nc: NatsConnection = await connect({
    servers: config.natsServers,
    name: 'scheduler',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    // a stack captured per request was a tenth of the scheduler's CPU under load; errors still carry their cause
    noAsyncTraces: true,
  });
  log.info({ server: nc.getServer() }, 'nats connected');
  const js = nc.jetstream({ timeout: config.natsTimeoutMs });
  // The scheduler owns the nodes bucket's age in a cluster (heartbeat.ts keeps an existing one's).
  const nodes = await js.views.kv(NODES_BUCKET, { ttl: config.heartbeatTtlMs, history: 1, replicas: config.natsReplicas });
  const directory = await js.views.kv(DIRECTORY_BUCKET, { history: 1, replicas: config.natsReplicas });
  const index = new NodeIndex({ downAfterMs: config.nodeDownAfterMs, overcommitPercent: config.overcommitPercent });
  const view = new NodeView({ nodes, directory, logger, index, downAfterMs: config.nodeDownAfterMs });
  await view.start();
  const strategy = createStrategy(config.strategy, { overcommitPercent: config.overcommitPercent });
  const writes = new CoalescedKv(directory);
  const writer = new RecordWriter({ directory: writes, view, logger });
  const placer = new Placer({ directory: writes, view, index, writer, strategy, logger });
  const rescheduler = new Rescheduler({
    backend: { downRecords: () => view.downRecords(), place: (i, extra) => placer.place(i, extra), mutate: (nodeId, m) => writer.mutate(nodeId, m) },
    logger,
    intervalMs: config.rescheduleIntervalMs,
  });
  rescheduler.start();

  // channelz's per-call bookkeeping was a fiftieth of the scheduler's CPU under load; nothing here reads it
  const server = new Server({ 'grpc.enable_channelz': 0 });
  server.addService(
    schedulerV1.SchedulerService,
    schedulerService({ place: (i) => placer.place(i), list: () => view.list(), drain: (ref, d) => placer.drain(ref, d) }, new Handlers(logger.child({ component: 'grpc' }))),
  );
  const port = await new Promise<number>((res, rej) => server.bindAsync(config.listen, ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  log.info({ listen: config.listen, port, strategy: config.strategy }, 'scheduler listening');
  let closed: Promise<void> | undefined;
  return {
    port,
    view,
    rescheduler,
    close: () =>
      (closed ??= (async () => {
        rescheduler.close();
        await new Promise<void>((r) => server.tryShutdown(() => r()));
        view.close();
        await nc.drain().catch(() => undefined);
      })()),
  };
}
