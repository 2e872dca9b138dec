import { connect, type NatsConnection } from 'nats';
import type { Logger } from '@drydock/logging';

export interface ConnectNatsOptions {
  /** One or more server URLs (a cluster's members: the client fails over between them). */
  servers: string[];
  /** Connection name shown by the server's monitoring (e.g. `containerd-supervisor/<nodeId>`). */
  name: string;
  logger: Logger;
  /** Pause between reconnect attempts. Default 500 ms: a restarted server is back within a second. */
  reconnectTimeWaitMs?: number;
  /**
   * Keep retrying when the server is unreachable at startup (default true): connect()
   * then resolves only once NATS is up. With false it rejects at once.
   */
  waitOnFirstConnect?: boolean;
}

/**
 * Connects to NATS and never gives up reconnecting (maxReconnectAttempts -1): the
 * supervisor outlives NATS restarts, and the event sink's queue bridges the outage.
 * Logs one line per state change (disconnected, reconnected), not one per attempt.
 * The caller owns the connection and drains/closes it at shutdown.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const logger = opts.logger.child({ component: 'nats' });
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
  });
  logger.info({ server: nc.getServer() }, 'nats connected');
  void watchStatus(nc, logger);
  return nc;
}

async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  let connected = true;
  try {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' && connected) {
        connected = false;
        logger.warn({ server: s.data }, 'nats disconnected, reconnecting');
      } else if (s.type === 'reconnect' && !connected) {
        connected = true;
        logger.info({ server: s.data }, 'nats reconnected');
      } else if (s.type === 'error') {
        logger.warn({ err: s.data }, 'nats connection error');
      }
    }
  } catch (err) {
    logger.warn({ err }, 'nats status stream failed');
  }
  const err = await nc.closed();
  if (err) logger.error({ err }, 'nats connection closed with error');
  else logger.info('nats connection closed');
}
