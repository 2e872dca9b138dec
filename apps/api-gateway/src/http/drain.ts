/**
 * Resolves when a writable can take more (drain), goes away (close), or the
 * request was aborted: a stream never waits on a client that left.
 */
export function drained(w: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.removeListener('drain', done);
      w.removeListener('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    w.once('drain', done);
    w.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Writes with back-pressure; returns at once when the client is gone, and never waits on one that leaves. */
export async function writeDrained(res: NodeJS.WritableStream & { destroyed: boolean }, data: Buffer | string, signal: AbortSignal): Promise<void> {
  if (res.destroyed) return;
  if (!res.write(data)) await drained(res, signal);
}
