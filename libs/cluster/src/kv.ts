import type { KV, KvEntry } from 'nats';

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
export async function getJson<T>(kv: KV, key: string): Promise<{ value: T; revision: number } | undefined> {
  const e = await kv.get(key);
  if (!e) return undefined;
  const value = decodeJson<T>(e);
  return value === undefined ? undefined : { value, revision: e.revision };
}
