/** Go's zero time.Time as dockerd prints it for "never" (StartedAt, FinishedAt). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface TimestampLike {
  seconds?: string | undefined;
  nanos?: number | undefined;
}

/** Go's time.RFC3339Nano in UTC: fraction without trailing zeros; an unset timestamp is Go's zero time. */
export function rfc3339Nano(ts: TimestampLike | undefined): string {
  if (!ts || (!ts.seconds || ts.seconds === '0') && !ts.nanos) return ZERO_TIME;
  const secs = Number(ts.seconds ?? '0');
  const base = new Date(secs * 1000).toISOString().slice(0, 19);
  const nanos = ts.nanos ?? 0;
  const frac = nanos ? '.' + String(nanos).padStart(9, '0').replace(/0+$/, '') : '';
  return `${base}${frac}Z`;
}

/** Unix seconds of a timestamp (0 when unset). */
export function unixSeconds(ts: TimestampLike | undefined): number {
  return Number(ts?.seconds ?? '0');
}

/** Nanoseconds since the epoch as a bigint (0n when unset). */
export function unixNanos(ts: TimestampLike | undefined): bigint {
  return BigInt(ts?.seconds ?? '0') * 1000000000n + BigInt(ts?.nanos ?? 0);
}
