import type { KV, KvEntry, QueuedIterator } from 'nats';

/** A revision-checked write lost its race (JetStream's "wrong last sequence", API error 10071). */
export function isRevisionConflict(err: unknown): boolean {
  const e = err as { message?: string; api_error?: { err_code?: number } } | undefined;
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? '');
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export function decodeJson<T>(e: KvEntry): T | undefined {
  if (e.operation !== 'PUT' || e.length === 0) return undefined;
  try {
    return JSON.parse(dec.decode(e.value)) as T;
  } catch {
    return undefined;
  }
}

/** The value and revision of a key, undefined when absent or deleted. */
export async function getJson<T>(kv: Pick<KV, 'get'>, key: string): Promise<{ value: T; revision: number } | undefined> {
  const e = await kv.get(key);
  if (!e) return undefined;
  const value = decodeJson<T>(e);
  return value === undefined ? undefined : { value, revision: e.revision };
}

/**
 * Read-modify-write of one JSON key at the revision read, again on a lost race. `change`
 * gets the current value (undefined when absent) and returns the new one, undefined to
 * delete, or `unchanged` to write nothing. Throws the last conflict after `attempts`. Resolves
 * with the revision written (undefined when nothing was written or the key was deleted).
 */
export async function mutateJson<T>(kv: KV, key: string, change: (cur: T | undefined) => T | undefined | typeof unchanged, attempts = 20): Promise<number | undefined> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const cur = await getJson<T>(kv, key);
    const next = change(cur?.value);
    if (next === unchanged) return undefined;
    try {
      if (next === undefined) {
        if (cur) await kv.delete(key, { previousSeq: cur.revision });
        return undefined;
      }
      return cur ? await kv.update(key, encodeJson(next), cur.revision) : await kv.create(key, encodeJson(next));
    } catch (err) {
      if (!isRevisionConflict(err) && !isKeyExists(err)) throw err;
      last = err;
    }
  }
  throw last;
}

/** What `mutateJson`'s change returns to leave the key as it is. */
export const unchanged: unique symbol = Symbol('unchanged');

/** kv.create of a key that exists (nats.js reports it as a wrong last sequence too). */
export function isKeyExists(err: unknown): boolean {
  const e = err as { message?: string } | undefined;
  return isRevisionConflict(err) || /key exists/i.test(e?.message ?? '');
}

/**
 * Follows `key` of a bucket: `apply` gets every current value, then every change. Resolves once the
 * current values are in, with the watch (stop it to end). A watch that fails is logged, not thrown;
 * `onEnd` is called when the watch ends (stopped or failed), to follow again if wanted.
 */
export async function followKv(kv: KV, key: string, apply: (e: KvEntry) => void, log: { error(obj: object, msg: string): void }, onEnd?: (err?: unknown) => void): Promise<QueuedIterator<KvEntry>> {
  let ready!: () => void;
  const initialized = new Promise<void>((r) => (ready = r));
  const w = await kv.watch({ key, initializedFn: () => ready() });
  void (async () => {
    try {
      for await (const e of w) apply(e);
      onEnd?.();
    } catch (err) {
      log.error({ err, key }, 'watch failed');
      onEnd?.(err);
    }
  })();
  await initialized;
  return w;
}

/**
 * A KV call that failed only because JetStream was between leaders: 503 (no responders, the
 * stream has no leader while a server of the cluster is lost) or a request timeout. The same call
 * succeeds once a new leader is elected (a few seconds); anything else is not retried.
 */
export function isTransientKvError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === '503' || e?.code === 'TIMEOUT' || e?.message === '503' || e?.message === 'TIMEOUT';
}

/**
 * `call` again while it fails with isTransientKvError, for up to `forMs` (backing off from 100 ms
 * to 1 s); the last error when the time is up. Only for calls that are safe to repeat: revision-checked
 * writes and reads.
 */
export async function retryTransientKv<T>(call: () => Promise<T>, forMs: number): Promise<T> {
  const until = Date.now() + forMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransientKvError(err) || Date.now() >= until) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** attempt)));
    }
  }
}
