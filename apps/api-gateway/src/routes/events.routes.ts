import { InvalidArgumentError } from '@drydock/errors';
import { FilterArgs } from '../http/query';
import { parseEventTime } from '../events/event-time';
import { JetStreamEventSource, type EventSource } from '../events/jetstream-event-source';
import { drained } from '../http/drain';
import type { Router } from '../http/router';
import type { RouteDeps } from './deps';
import type { DockerEventMessage } from '../events/event-filter';
import type { NodeSummary } from '../backend/supervisor-client';

/**
 * An event as classic Swarm's manager relayed it (api/utils.go normalizeEvent): the node in
 * the actor's attributes (node.name/id/addr/ip), in `from` (" node:<name>") and as a
 * `node` object, dockerd's shape otherwise unchanged.
 */
export function withSwarmNode(ev: DockerEventMessage, node: NodeSummary | undefined, nodeId: string): DockerEventMessage {
  const name = node?.name ?? nodeId;
  const out: DockerEventMessage & { from?: string; node?: unknown } = { ...ev };
  if (out.Actor) out.Actor = { ...out.Actor, Attributes: { ...(out.Actor.Attributes ?? {}), 'node.name': name, 'node.id': nodeId, 'node.addr': node?.address ?? '', 'node.ip': node?.ip ?? '' } };
  if (typeof out.from === 'string') out.from = `${out.from} node:${name}`;
  out.node = { Name: name, Id: nodeId, Addr: node?.address ?? '', Ip: node?.ip ?? '' };
  return out;
}

/** GET /events, served from JetStream (see JetStreamEventSource). */
export function registerEventRoutes(router: Router, deps: Pick<RouteDeps, 'nats' | 'nodes'>, source?: EventSource): void {
  let events = source;
  const cluster = deps.nodes.cluster;
  const decorate = cluster ? (ev: DockerEventMessage, nodeId: string) => withSwarmNode(ev, cluster.nodes().find((n) => n.id === nodeId), nodeId) : undefined;
  router.on('GET', '/events', async (ctx) => {
    events ??= new JetStreamEventSource({ nats: deps.nats, logger: ctx.log, decorate });
    const now = new Date();
    const since = parseEventTime(ctx.query.get('since'), now, true);
    const until = parseEventTime(ctx.query.get('until'), now, true);
    if (since !== undefined && until !== undefined && until < since) {
      throw new InvalidArgumentError(`\`since\` time (${ctx.query.get('since')}) cannot be after \`until\` time (${ctx.query.get('until')})`);
    }
    const filters = FilterArgs.fromJson(ctx.query.get('filters'));
    // errors up to here (bad parameters, NATS unreachable) are plain HTTP errors
    const sub = await events.open({ since, until, filters }, now);
    const stop = () => sub.close();
    ctx.signal.addEventListener('abort', stop, { once: true });
    // The server allows half-open sockets (for hijacked streams), so a client that
    // goes away shows up as the end of its side of the socket, not as a closed response;
    // a plain request's client never half-closes on purpose.
    const socket = ctx.req.socket;
    socket.once('end', stop);
    socket.once('close', stop);
    // `until` (past or future) is the subscription's own: it ends the iteration
    try {
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.flushHeaders();
      for await (const ev of sub.events) {
        if (ctx.signal.aborted) break;
        if (!ctx.res.write(JSON.stringify(ev) + '\n')) await drained(ctx.res, ctx.signal);
      }
    } finally {
      ctx.signal.removeEventListener('abort', stop);
      socket.removeListener('end', stop);
      socket.removeListener('close', stop);
      sub.close();
    }
    ctx.res.end();
  });
}

