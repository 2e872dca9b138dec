import { InvalidArgumentError } from '@drydock/errors';
import { FilterArgs } from '../http/query';
import { parseEventTime } from '../events/event-time';
import { JetStreamEventSource, type EventSource } from '../events/jetstream-event-source';
import { drained } from '../http/drain';
import type { Router } from '../http/router';
import type { RouteDeps } from './deps';

/** GET /events, served from JetStream (see JetStreamEventSource). */
export function registerEventRoutes(router: Router, deps: Pick<RouteDeps, 'nats'>, source?: EventSource): void {
  let events = source;
  router.on('GET', '/events', async (ctx) => {
    events ??= new JetStreamEventSource({ nats: deps.nats, logger: ctx.log });
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

