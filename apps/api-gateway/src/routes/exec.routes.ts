import { supervisorV1 } from '@drydock/proto';
import { fromGrpcError, InvalidArgumentError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { acceptPlain, acceptUpgrade, readUpgradeJson, type RawConn } from '../http/hijack';
import { outputEncoder, STDERR, STDOUT } from '../http/mux';
import type { Router } from '../http/router';
import type { Infer } from '../http/go-json';
import { bodies, type execStartType } from '../docker/request-bodies';
import { checkDetachKeys } from '../docker/request-checks';
import type { RouteDeps } from './deps';
import { pumpHijacked } from './streams.routes';

type ExecStartBody = NonNullable<Infer<typeof execStartType>>;

/** The JSON body limit of a hijacked request (Node does not parse bodies of upgrade requests). */

/** docker exec: create, start (hijacked or detached), inspect, resize. */
export function registerExecRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const { nodes } = deps;

  router.on('POST', '/containers/:id/exec', async (ctx) => {
    const body = (await ctx.json(bodies.execCreate)) ?? {};
    const cmd = body.Cmd ?? [];
    if (cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
    checkDetachKeys(body.DetachKeys);
    const sc = await nodes.forContainer(ctx.params.id);
    // not running / paused -> FAILED_PRECONDITION with dockerd's text -> 409
    const res = await sc.call(sc.exec, sc.exec.createExec, {
      containerId: ctx.params.id,
      cmd,
      env: body.Env ?? [],
      user: body.User ?? '',
      workingDir: body.WorkingDir ?? '',
      tty: !!body.Tty,
      attachStdin: !!body.AttachStdin,
      attachStdout: !!body.AttachStdout,
      attachStderr: !!body.AttachStderr,
      privileged: !!body.Privileged,
    });
    ctx.send(201, { Id: res.id });
  });

  /** Shared by the upgrade and the plain route; `accept` commits the response to a raw stream. */
  const start = async (a: { id: string; body: ExecStartBody; log: Logger }, detached: () => void, accept: () => RawConn) => {
    const sc = await nodes.forExec(a.id);
    // unknown exec -> 404 before anything is hijacked, as dockerd's ExecExists check
    const exec = await sc.call(sc.exec, sc.exec.inspectExec, { id: a.id });
    const [height, width] = a.body.ConsoleSize ?? [0n, 0n];
    const startMsg: supervisorV1.ExecStart = { execId: exec.id ?? a.id, detach: !!a.body.Detach, width: clampUint32(width), height: clampUint32(height) };
    const log = a.log.child({ execId: exec.id, containerId: exec.containerId });
    const call = sc.exec.startExec();

    if (a.body.Detach) {
      // the stream ends (OK) once the process started; failures are plain HTTP errors
      await new Promise<void>((resolve, reject) => {
        call.on('data', () => undefined);
        call.on('end', () => resolve());
        call.on('error', (err) => reject(fromGrpcError(err)));
        call.write({ start: startMsg });
        call.end();
      });
      detached();
      return;
    }

    // framing follows the start request's Tty, as dockerd does (the CLI repeats the create's Tty)
    const encode = outputEncoder(a.body.Tty ?? !!exec.tty);
    call.write({ start: startMsg });
    const conn = accept();
    await pumpHijacked(conn, call, log, {
      stdin: !!exec.openStdin,
      toStdin: (data) => ({ stdin: data }),
      closeStdin: () => ({ closeStdin: true }),
      onMessage: async (m: supervisorV1.StartExecResponse) => {
        if (m.output?.data?.length) {
          await conn.write(encode(m.output.stream === supervisorV1.StdStream.STD_STREAM_STDERR ? STDERR : STDOUT, m.output.data));
        }
        // ExitCode is final once the exit message was sent: close now, the CLI inspects next
        return m.exit !== undefined;
      },
      // dockerd writes start failures after the hijack into the stream, followed by CRLF
      errorText: (msg) => encode(STDOUT, Buffer.from(`${msg}\r\n`)),
    });
  };

  router.onHijack('POST', '/exec/:id/start', async (h) => {
    const body = readUpgradeJson(h, bodies.execStart) ?? {};
    await start(
      { id: h.params.id, body, log: h.log },
      () => h.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      () => acceptUpgrade(h),
    );
  });
  // `docker exec -d` sends no Upgrade header; SDKs may not either for attached starts
  router.on('POST', '/exec/:id/start', async (ctx) => {
    const body = (await ctx.json(bodies.execStart)) ?? {};
    await start(
      { id: ctx.params.id, body, log: ctx.log },
      () => ctx.empty(200),
      () => acceptPlain(ctx),
    );
  });

  router.on('GET', '/exec/:id/json', async (ctx) => {
    const sc = await nodes.forExec(ctx.params.id);
    const x = await sc.call(sc.exec, sc.exec.inspectExec, { id: ctx.params.id });
    ctx.send(200, toExecInspect(x));
  });

  router.on('POST', '/exec/:id/resize', async (ctx) => {
    const h = parseDimension(ctx.query.get('h'));
    const w = parseDimension(ctx.query.get('w'));
    const sc = await nodes.forExec(ctx.params.id);
    await sc.call(sc.exec, sc.exec.resizeExecTty, { id: ctx.params.id, width: w, height: h });
    // dockerd writes no body and no status: Go's default 200
    ctx.empty(200);
  });
}

/** Docker's ExecInspect; ExitCode is null while the process has not exited. */
export function toExecInspect(x: supervisorV1.InspectExecResponse): Record<string, unknown> {
  return {
    ID: x.id ?? '',
    Running: !!x.running,
    ExitCode: x.exitCode ?? null,
    ProcessConfig: {
      tty: !!x.tty,
      entrypoint: x.entrypoint ?? '',
      arguments: x.arguments ?? [],
      privileged: !!x.privileged,
      user: x.user ?? '',
    },
    OpenStdin: !!x.openStdin,
    OpenStderr: !!x.openStderr,
    OpenStdout: !!x.openStdout,
    CanRemove: false,
    ContainerID: x.containerId ?? '',
    DetachKeys: '',
    Pid: x.pid ?? 0,
  };
}

/** dockerd: strconv.Atoi of h and w, 400 when it fails. */
function parseDimension(v: string | null): number {
  if (v === null || !/^[0-9]+$/.test(v.trim())) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(v ?? '')}: invalid syntax`);
  return Number(v.trim());
}

/** A Go uint console dimension for the proto's uint32 (a terminal is never that large). */
function clampUint32(v: bigint): number {
  return Number(v > 0xffffffffn ? 0xffffffffn : v);
}
