import { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import type { ExecManager } from '../exec/exec-manager';
import { incoming, type Handlers } from './handlers';
import { firstMessage, toStdStream } from './containers.service';

/** Thin gRPC adapter over ExecManager (drydock.supervisor.v1.Exec). */
export function execService(x: ExecManager, h: Handlers): supervisorV1.ExecServer {
  return {
    createExec: h.unary('CreateExec', async (req: supervisorV1.CreateExecRequest) => ({ id: await x.create(req) })),
    startExec: h.bidi('StartExec', async (call, signal, write) => {
      const first = await firstMessage<supervisorV1.StartExecRequest>(call);
      const start = first?.start;
      if (!start?.execId) throw new InvalidArgumentError('the first StartExec message must carry start');
      const id = start.execId;
      const res = await x.start(id, { detach: !!start.detach, width: start.width, height: start.height, signal });
      void (async () => {
        try {
          for await (const msg of incoming<supervisorV1.StartExecRequest>(call)) {
            if (msg.stdin && msg.stdin.length > 0) await x.writeStdin(id, Buffer.from(msg.stdin));
            if (msg.closeStdin) await x.closeStdin(id);
          }
          if (!signal.aborted) await x.closeStdin(id);
        } catch {
          // client gone
        }
      })();
      if (start.detach) return;
      for await (const e of res.output) await write({ output: { stream: toStdStream(e), data: e.data } });
      await write({ exit: { exitCode: await res.exitCode } });
    }),
    inspectExec: h.unary('InspectExec', (req: supervisorV1.InspectExecRequest) => x.inspect(req.id ?? '')),
    resizeExecTty: h.unary('ResizeExecTty', async (req: supervisorV1.ResizeExecTtyRequest) => {
      await x.resize(req.id ?? '', req.width ?? 0, req.height ?? 0);
      return {};
    }),
  };
}
