import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { findDrydockError, toGrpcStatus } from '@drydock/errors';
import type { Logger } from '@drydock/logging';

/** Async domain calls to grpc-js unary handlers: errors mapped once, unclassified ones logged with their stack. */
export class Handlers {
  constructor(private readonly log: Logger) {}

  unary<Req, Res>(method: string, fn: (req: Req) => Promise<Res> | Res) {
    return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => cb(null, res),
          (err) => {
            const known = findDrydockError(err);
            if (!known || known.code === 'INTERNAL') this.log.error({ err, method }, 'request failed');
            else this.log.debug({ err, method }, 'request rejected');
            cb(toGrpcStatus(err));
          },
        );
    };
  }
}
