/** A log entry as readers yield it. */
export interface MergeableEntry {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  timeNs: bigint;
  partial: boolean;
}

const IDLE = Symbol('idle');

/**
 * Merges consecutive entries of one stream into entries of up to `maxBytes`
 * (time of the first, `partial` of the last). What is already read goes out
 * together; an entry is never held back once the source has nothing ready
 * (checked with one event-loop turn), so followers see output at once.
 */
export async function* mergeEntries<T extends MergeableEntry>(source: AsyncIterable<T>, maxBytes = 64 * 1024): AsyncGenerator<MergeableEntry> {
  const it = source[Symbol.asyncIterator]();
  let pending: { stream: T['stream']; chunks: Buffer[]; bytes: number; timeNs: bigint; partial: boolean } | undefined;
  const flush = (): MergeableEntry => {
    const p = pending!;
    pending = undefined;
    return { stream: p.stream, data: p.chunks.length === 1 ? p.chunks[0] : Buffer.concat(p.chunks, p.bytes), timeNs: p.timeNs, partial: p.partial };
  };
  let next = it.next();
  try {
    for (;;) {
      const r = pending ? await Promise.race([next, new Promise<typeof IDLE>((res) => setImmediate(() => res(IDLE)))]) : await next;
      if (r === IDLE) {
        yield flush();
        continue;
      }
      if (r.done) {
        if (pending) yield flush();
        return;
      }
      next = it.next();
      const e = r.value;
      if (pending && (pending.stream !== e.stream || pending.bytes + e.data.length > maxBytes)) yield flush();
      if (!pending) pending = { stream: e.stream, chunks: [], bytes: 0, timeNs: e.timeNs, partial: e.partial };
      pending.chunks.push(e.data);
      pending.bytes += e.data.length;
      pending.partial = e.partial;
    }
  } finally {
    await it.return?.();
  }
}
