/** The part of a client-streaming gRPC call an upload needs (ClientWritableStream of a `{ chunk }` message). */
export interface ChunkSink {
  write(message: { chunk: Buffer }): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Streams a request body into `call` as `{ chunk }` messages with back-pressure. Once `done`
 * (the call's answer) has failed, further chunks are not sent: with `afterFailure: 'stop'` the
 * body is left unread; with 'drain' it is read to its end and dropped, for answers that still
 * go back on this connection (leaving the loop destroys the request, and the socket with it).
 * A failed call's error is thrown at the end.
 */
export async function pumpBody(body: AsyncIterable<unknown>, call: ChunkSink, done: Promise<unknown>, afterFailure: 'stop' | 'drain'): Promise<void> {
  let failed = false;
  done.catch(() => {
    failed = true;
  });
  for await (const chunk of body) {
    if (failed) {
      if (afterFailure === 'stop') break;
      continue;
    }
    if (!call.write({ chunk: chunk as Buffer })) await Promise.race([new Promise((r) => call.once('drain', () => r(undefined))), done.catch(() => undefined)]);
  }
  if (failed) await done;
}
