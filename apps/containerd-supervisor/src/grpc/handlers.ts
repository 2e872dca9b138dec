import type { sendUnaryData, ServerDuplexStream, ServerReadableStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { toGrpcStatus, findDrydockError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';

/**
 * Adapters from async domain calls to grpc-js handlers: errors are mapped once
 * (taxonomy -> status), unclassified ones logged with their stack.
 */
export class Handlers {
  constructor(private readonly log: Logger) {}

  private fail(method: string, err: unknown): ReturnType<typeof toGrpcStatus> {
    if (!findDrydockError(err) || findDrydockError(err)?.code === 'INTERNAL') this.log.error({ err, method }, 'request failed');
    else this.log.debug({ err, method }, 'request rejected');
    return toGrpcStatus(err);
  }

  unary<Req, Res>(method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
    return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => fn(call.request, call))
        .then(
          (res) => cb(null, res),
          (err) => cb(this.fail(method, err)),
        );
    };
  }

  /** A server stream fed by an async iterable; stops pulling when the caller cancels. */
  serverStream<Req, Res>(method: string, fn: (req: Req, signal: AbortSignal) => AsyncIterable<Res> | Promise<AsyncIterable<Res>>) {
    return (call: ServerWritableStream<Req, Res>): void => {
      const ac = new AbortController();
      // 'cancelled' covers client cancellation and disconnects; 'close' also fires on a normal end
      call.on('cancelled', () => ac.abort());
      void (async () => {
        try {
          for await (const item of await fn(call.request, ac.signal)) {
            if (ac.signal.aborted) break;
            if (!call.write(item)) await drained(call, ac.signal);
          }
          if (!ac.signal.aborted) call.end();
        } catch (err) {
          if (!ac.signal.aborted) call.emit('error', this.fail(method, err));
        }
      })();
    };
  }

  clientStream<Req, Res>(method: string, fn: (messages: AsyncIterable<Req>, call: ServerReadableStream<Req, Res>) => Promise<Res>) {
    return (call: ServerReadableStream<Req, Res>, cb: sendUnaryData<Res>): void => {
      fn(call as unknown as AsyncIterable<Req>, call).then(
        (res) => cb(null, res),
        (err) => cb(this.fail(method, err)),
      );
    };
  }

  bidi<Req, Res>(method: string, fn: (call: ServerDuplexStream<Req, Res>, signal: AbortSignal, write: (m: Res) => Promise<void>) => Promise<void>) {
    return (call: ServerDuplexStream<Req, Res>): void => {
      const ac = new AbortController();
      // not 'close': a client half-close (stdin EOF) must not end the output side
      call.on('cancelled', () => ac.abort());
      const write = async (m: Res) => {
        if (ac.signal.aborted) return;
        if (!call.write(m)) await drained(call, ac.signal);
      };
      fn(call, ac.signal, write).then(
        () => {
          if (!ac.signal.aborted) call.end();
        },
        (err) => {
          if (!ac.signal.aborted) call.emit('error', this.fail(method, err));
        },
      );
    };
  }
}

function drained(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The client's messages of a streaming call. A plain `for await` over the call
 * would destroy the whole duplex when the client half-closes, killing our output
 * side (stdin EOF must not end stdout).
 */
export function incoming<T>(call: NodeJS.ReadableStream): AsyncIterable<T> {
  return (call as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterable<T> }).iterator({ destroyOnReturn: false });
}
