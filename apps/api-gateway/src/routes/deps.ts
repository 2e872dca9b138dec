import type { NatsConnection } from 'nats';
import type { ContainerLocator } from '../backend/supervisor-client';

/** What route modules may depend on; each takes only the parts it needs. */
export interface RouteDeps {
  nodes: ContainerLocator;
  /** Resolves once NATS is reachable (events, which are served from JetStream). */
  nats: () => Promise<NatsConnection>;
  /** Where local volumes and state live, for /info and system df. */
  stateDir: string;
}
