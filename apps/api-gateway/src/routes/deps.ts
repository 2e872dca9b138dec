import type { NatsConnection } from 'nats';
import type { ContainerLocator } from '../backend/supervisor-client';
import type { CreatePlacement } from '../cluster/placement';

/** What route modules may depend on; each takes only the parts it needs. */
export interface RouteDeps {
  nodes: ContainerLocator;
  /** A cluster's placement of creates (DRYDOCK_CLUSTER=1); absent: creates stay on the local node. */
  placement?: CreatePlacement;
  /** Resolves once NATS is reachable (events, which are served from JetStream). */
  nats: () => Promise<NatsConnection>;
  /** Where local volumes and state live, for /info and system df. */
  stateDir: string;
}
