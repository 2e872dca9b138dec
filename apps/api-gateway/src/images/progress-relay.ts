import type { ClientReadableStream } from '@grpc/grpc-js';
import { fromGrpcError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import type { Ctx } from '../http/router';
import { writeProgressStream } from './progress';

/**
 * A supervisor progress stream (image pull/push, plugin install/upgrade/push) relayed as
 * dockerd's JSON lines while it runs. No deadline (a pull takes what it takes); the client's
 * disconnect cancels the call. A failure before the first message rejects (a plain HTTP error).
 */
export async function relayProgress(ctx: Ctx, call: ClientReadableStream<supervisorV1.ImageProgress>): Promise<void> {
  const cancel = () => call.cancel();
  ctx.signal.addEventListener('abort', cancel, { once: true });
  try {
    await writeProgressStream(ctx.res, grpcMessages(call), ctx.signal);
  } finally {
    ctx.signal.removeEventListener('abort', cancel);
    call.cancel();
  }
}

async function* grpcMessages<T>(call: ClientReadableStream<T>): AsyncIterable<T> {
  try {
    for await (const m of call) yield m as T;
  } catch (err) {
    throw fromGrpcError(err);
  }
}
