import type { ClientDuplexStream } from '@grpc/grpc-js';
import { supervisorV1, type Timestamp } from '@drydock/proto';
import { FailedPreconditionError, fromGrpcError, InvalidArgumentError, NotFoundError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { ContainerLocator, SupervisorClient } from '../backend/supervisor-client';
import { acceptPlain, acceptUpgrade, type RawConn } from '../http/hijack';
import { outputEncoder, STDERR, STDOUT, type StreamId } from '../http/mux';
import { drained } from '../http/drain';
import { boolParam } from '../http/query';
import type { Router } from '../http/router';
import type { RouteDeps } from './deps';
import { timestampQueryError } from '../events/event-time';

/**
 * GET /containers/{id}/logs and POST /containers/{id}/attach: the container's
 * output as Docker streams it (multiplexed frames, or raw bytes for a TTY).
 */
export function registerStreamRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const { nodes } = deps;

  router.on('GET', '/containers/:id/logs', async (ctx) => {
    const q = ctx.query;
    const stdout = boolParam(q, 'stdout');
    const stderr = boolParam(q, 'stderr');
    if (!stdout && !stderr) throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
    const req: supervisorV1.ContainerLogsRequest = {
      follow: boolParam(q, 'follow'),
      stdout,
      stderr,
      since: parseLogTime(q.get('since') ?? '', 'since'),
      until: parseLogTime(q.get('until') ?? '', 'until'),
      tail: parseTail(q.get('tail') ?? ''),
    };
    const timestamps = boolParam(q, 'timestamps');
    const { sc, info } = await inspect(nodes, ctx.params.id);
    const encode = outputEncoder(!!info.config?.tty);
    // without per-line times, lines may come merged: far fewer messages for big logs
    const call = sc.containers.containerLogs({ ...req, id: info.id, merge: !timestamps });
    const cancel = () => call.cancel();
    ctx.signal.addEventListener('abort', cancel, { once: true });

    // API 1.41 sends no Content-Type on logs (1.42 added raw-stream/multiplexed-stream).
    // Headers go out now: `logs -f` of a quiet container must not look hung.
    ctx.res.writeHead(200);
    ctx.res.flushHeaders();
    ctx.res.socket?.setNoDelay(true);
    const atLineStart = { [STDOUT]: true, [STDERR]: true } as Record<StreamId, boolean>;
    try {
      for await (const e of call as AsyncIterable<supervisorV1.LogEntry>) {
        const stream = toStreamId(e.stream);
        let data: Buffer = e.data ? Buffer.from(e.data) : Buffer.alloc(0);
        // one timestamp per line, as dockerd stamps each log message; continuations of a partial line get none
        if (timestamps && atLineStart[stream]) data = Buffer.concat([Buffer.from(formatLogTime(e.time) + ' '), data]);
        atLineStart[stream] = !e.partial;
        if (data.length && !ctx.res.write(encode(stream, data))) await drained(ctx.res, ctx.signal);
        if (ctx.signal.aborted) break;
      }
    } catch (err) {
      if (!ctx.signal.aborted) {
        // the status line is out: tell the user in the stream, as dockerd does ("Error grabbing logs")
        const e = fromGrpcError(err);
        ctx.log.warn({ err: e, containerId: info.id }, 'log stream failed');
        ctx.res.write(encode(STDERR, Buffer.from(`Error grabbing logs: ${e.message}\n`)));
      }
    } finally {
      ctx.signal.removeEventListener('abort', cancel);
    }
    ctx.res.end();
  });

  const attach = async (a: { id: string; query: URLSearchParams; log: Logger }, accept: () => RawConn) => {
    const q = a.query;
    const start: supervisorV1.AttachStart = {
      stdin: boolParam(q, 'stdin'),
      stdout: boolParam(q, 'stdout'),
      stderr: boolParam(q, 'stderr'),
      logs: boolParam(q, 'logs'),
      stream: boolParam(q, 'stream'),
    };
    // detachKeys is accepted and ignored: the detach sequence (ctrl-p ctrl-q) is not interpreted yet
    const { sc, info } = await inspect(nodes, a.id);
    if (info.state?.paused) throw new FailedPreconditionError('You cannot attach to a paused container, unpause it first');
    if (info.state?.restarting) throw new FailedPreconditionError('You cannot attach to a restarting container, wait until it is running');
    const encode = outputEncoder(!!info.config?.tty);
    const log = a.log.child({ containerId: info.id });
    // The attach is requested before the 101 goes out: `docker run` starts the
    // container only after the 101 and a /wait round trip, so no output is missed.
    const call = sc.containers.attachContainer();
    call.write({ start: { ...start, id: info.id } });
    const conn = accept();
    // `docker run -i` sends stdin (and its FIN) right after the 101, before it starts the
    // container, and the supervisor drops stdin for a container that is not running (there is
    // no FIFO yet). dockerd's stdin pipe buffers instead: hold the bytes until the task runs.
    await pumpHijacked(conn, call, log, {
      stdin: !!start.stdin,
      toStdin: (data) => ({ stdin: data }),
      closeStdin: () => ({ closeStdin: true }),
      onMessage: async (m: supervisorV1.AttachContainerResponse) => {
        if (m.data?.length) await conn.write(encode(toStreamId(m.stream), m.data));
        return false;
      },
      errorText: (msg) => encode(STDERR, Buffer.from(`Error attaching: ${msg}\n`)),
    });
  };
  router.onHijack('POST', '/containers/:id/attach', (h) => attach({ id: h.params.id, query: h.query, log: h.log }, () => acceptUpgrade(h)));
  // clients without `Upgrade: tcp` get the same stream on a plain 200 (dockerd hijacks either way)
  router.on('POST', '/containers/:id/attach', (ctx) => attach({ id: ctx.params.id, query: ctx.query, log: ctx.log }, () => acceptPlain(ctx)));
}

/**
 * Runs a hijacked session over a bidi gRPC call: client bytes become stdin
 * messages (FIN -> close stdin), output messages go through `onMessage` (true
 * = the session is over), the connection closes when the output ends, and a
 * client that goes away cancels the call.
 */
export async function pumpHijacked<Req, Res>(
  conn: RawConn,
  call: ClientDuplexStream<Req, Res>,
  log: Logger,
  o: {
    stdin: boolean;
    toStdin: (data: Buffer) => Req;
    closeStdin: () => Req;
    onMessage: (m: Res) => Promise<boolean>;
    errorText: (message: string) => Buffer;
  },
): Promise<void> {
  let outputDone = false;
  const cancel = () => call.cancel();
  conn.signal.addEventListener('abort', cancel, { once: true });
  // late errors (a stdin write racing the end of the call) must not crash the process
  call.on('error', () => undefined);
  const send = (m: Req) => {
    if (outputDone || call.writableEnded || call.destroyed) return;
    try {
      call.write(m);
    } catch {
      // the call finished meanwhile
    }
  };
  let queue: Promise<void> = Promise.resolve();
  const inOrder = (fn: () => void) => {
    queue = queue.then(fn, fn);
  };
  conn.readInput(
    (chunk) => {
      if (o.stdin) inOrder(() => send(o.toStdin(chunk)));
    },
    () => {
      // the client's FIN: stdin EOF (StdinOnce containers then see EOF); output goes on
      if (!o.stdin) return;
      inOrder(() => {
        send(o.closeStdin());
        if (!outputDone && !call.writableEnded) call.end();
      });
    },
  );
  try {
    for await (const m of call as AsyncIterable<Res>) {
      if (await o.onMessage(m)) break;
      if (conn.signal.aborted) break;
    }
  } catch (err) {
    if (!conn.signal.aborted) {
      const e = fromGrpcError(err);
      log.warn({ err: e }, 'hijacked stream failed');
      await conn.write(o.errorText(e.message));
    }
  } finally {
    outputDone = true;
    conn.signal.removeEventListener('abort', cancel);
    if (!conn.signal.aborted) conn.end();
    if (!call.writableEnded) {
      try {
        call.end();
      } catch {
        // already finished
      }
    }
  }
}

async function inspect(nodes: ContainerLocator, ref: string): Promise<{ sc: SupervisorClient; info: supervisorV1.ContainerInfo & { id: string } }> {
  const sc = await nodes.forContainer(ref);
  const res = await sc.call(sc.containers, sc.containers.inspectContainer, { id: ref });
  const info = res.container;
  if (!info?.id) throw new NotFoundError(`No such container: ${ref}`);
  return { sc, info: info as supervisorV1.ContainerInfo & { id: string } };
}

function toStreamId(s: supervisorV1.StdStream | undefined): StreamId {
  return s === supervisorV1.StdStream.STD_STREAM_STDERR ? STDERR : STDOUT;
}


/** tail: "all", empty, negative or not a number -> everything (dockerd ignores what Atoi rejects). */
export function parseTail(v: string): number | undefined {
  if (!/^-?[0-9]+$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n < 0 || n > 0x7fffffff ? undefined : n;
}

/**
 * since/until: the CLI sends unix seconds with an optional fraction
 * ("1700000000.123456789", timetypes.GetTimestamp); RFC3339 is accepted too
 * for hand-written clients. Empty means unset.
 */
export function parseLogTime(v: string, name: string): Timestamp | undefined {
  const s = v.trim();
  if (!s) return undefined;
  const unix = /^(-?[0-9]+)(?:\.([0-9]{1,9}))?$/.exec(s);
  if (unix) {
    const nanos = Number((unix[2] ?? '').padEnd(9, '0'));
    return { seconds: String(Number(unix[1])), nanos: unix[1].startsWith('-') && nanos ? -nanos : nanos };
  }
  const rfc = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(s);
  if (rfc) {
    const ms = Date.parse(`${rfc[1]}${rfc[3].toUpperCase()}`);
    if (!Number.isNaN(ms)) return { seconds: String(Math.floor(ms / 1000)), nanos: Number((rfc[2] ?? '').padEnd(9, '0')) };
  }
  throw new InvalidArgumentError(timestampQueryError(s) ?? `invalid value for "${name}": failed to parse value as time or duration: "${v}"`);
}

/**
 * A log line's timestamp as dockerd writes it: UTC in jsonmessage.RFC3339NanoFixed
 * ("2006-01-02T15:04:05.000000000Z07:00"), i.e. always nine fraction digits.
 * dockerd 20.10's WriteLogStream uses the fixed width, not Go's RFC3339Nano
 * (which trims trailing zeros), so columns line up.
 */
export function formatLogTime(t: Timestamp | undefined): string {
  const seconds = Number(t?.seconds ?? 0);
  const nanos = t?.nanos ?? 0;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(nanos).padStart(9, '0')}Z`;
}
