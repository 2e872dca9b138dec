import type { KV, NatsConnection } from 'nats';
import type { Logger } from '@drydock/logging';
import { DIRECTORY_BUCKET, NODES_BUCKET } from '@drydock/cluster';
import { SupervisorClient } from '../backend/supervisor-client';
import { ClusterLocator } from './cluster-locator';
import { ClusterView } from './cluster-view';
import { grpcPlace, SchedulerPlacement } from './placement';

export interface ClusterDoorConfig {
  schedulerAddress: string;
  schedulerRetryMs: number;
  nodeDownAfterMs: number;
  kvReplicas: number;
}

export interface ClusterDoor {
  locator: ClusterLocator;
  placement: SchedulerPlacement;
  close(): void;
}

/**
 * A gateway as a door to the whole cluster: the locator over the cluster view (followed once
 * NATS answers, retried until then; the local node serves meanwhile) and the placement of
 * creates that ask for it. Nothing here blocks the gateway's start.
 */
export function openClusterDoor(opts: { local: SupervisorClient; nats: () => Promise<NatsConnection>; config: ClusterDoorConfig; callTimeoutMs: number; logger: Logger }): ClusterDoor {
  const log = opts.logger.child({ component: 'cluster' });
  let view: ClusterView | undefined;
  let directory: KV | undefined;
  let closed = false;
  let localId: Promise<string> | undefined;
  const localNodeId = () =>
    (localId ??= opts.local.call(opts.local.node, opts.local.node.getNodeInfo, {}, 5000).then(
      (r) => r.nodeId ?? '',
      (err) => {
        localId = undefined;
        throw err;
      },
    ));
  const locator = new ClusterLocator({ local: opts.local, view: () => view, localNodeId, connect: (address) => new SupervisorClient(address, opts.callTimeoutMs, true), probeTimeoutMs: 3000 });
  const scheduler = grpcPlace(opts.config.schedulerAddress);
  const placement = new SchedulerPlacement({
    local: opts.local,
    localNodeId: () => locator.localId(),
    place: scheduler.place,
    // the locator's clients: one per node address
    connect: (address) => locator.clientFor(address),
    directory: () => directory,
    nodeDown: (nodeId) => view?.node(nodeId)?.healthy === false,
    retryForMs: opts.config.schedulerRetryMs,
    callTimeoutMs: 10000,
    logger: opts.logger,
  });

  void (async () => {
    for (let attempt = 0; !closed; attempt++) {
      try {
        const nc = await opts.nats();
        const js = nc.jetstream({ timeout: 5000 });
        // bound only: the nodes bucket's max age is the scheduler's and the supervisors' to set
        const nodes = await js.views.kv(NODES_BUCKET, { bindOnly: true });
        const dir = await js.views.kv(DIRECTORY_BUCKET, { history: 1, replicas: opts.config.kvReplicas });
        const v = new ClusterView({ nodes, directory: dir, logger: opts.logger, downAfterMs: opts.config.nodeDownAfterMs });
        await v.start();
        if (closed) return v.close();
        view = v;
        directory = dir;
        // which node is this one (listings leave it out of the remote nodes)
        void locator.localId();
        log.info('following the cluster');
        return;
      } catch (err) {
        if (attempt % 10 === 0) log.warn({ err }, 'cluster view not opened; retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();

  return {
    locator,
    placement,
    close: () => {
      closed = true;
      view?.close();
      scheduler.close();
      locator.close();
    },
  };
}
