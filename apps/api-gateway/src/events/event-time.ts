import { InvalidArgumentError } from '@drydock/errors';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration ("10m", "1h30m", "-1.5h", "0"), in nanoseconds; undefined when not a duration. */
export function parseGoDuration(s: string): number | undefined {
  // µ and μ as escapes: one raw non-Latin-1 character makes V8 hold the whole bundle as UTF-16 (tools/build checks)
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+|0)$/.exec(s);
  if (!m) return undefined;
  if (m[2] === '0') return 0;
  let total = 0;
  for (const part of m[2].matchAll(/(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_NS[part[2]];
  return m[1] === '-' ? -total : total;
}

/**
 * The `since`/`until` of GET /events as nanoseconds since the epoch, accepting
 * what the docker CLI's timetypes.GetTimestamp accepts (the CLI converts before
 * sending, other clients may not): Unix seconds with an optional fraction
 * ("1700000000.5"), a Go duration before `now` ("10m", truncated to whole
 * seconds like the CLI), RFC 3339 / date forms (local time without a zone).
 * Empty means unset.
 */
export function parseEventTime(value: string | null | undefined, now: Date = new Date(), asQuery = false): bigint | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const v = value.trim();
  const dur = v !== '0' ? parseGoDuration(v) : undefined;
  if (dur !== undefined) return BigInt(Math.floor((now.getTime() - dur / 1e6) / 1000)) * NS_PER_S;
  const unix = /^(-?\d+)(?:\.(\d{0,9}))?$/.exec(v);
  if (unix) {
    const frac = (unix[2] ?? '').padEnd(9, '0');
    return BigInt(unix[1]) * NS_PER_S + BigInt(frac || '0');
  }
  const t = parseDockerDate(v);
  if (t === undefined) throw new InvalidArgumentError((asQuery && timestampQueryError(v)) || `failed to parse value as time or duration: "${value}"`);
  return t;
}

/**
 * dockerd's text for a `since`/`until` query value (logs, events) that is neither a
 * duration nor a date: GetTimestamp passes a value without "-" through and
 * ParseTimestamps' strconv.ParseInt rejects its seconds or its fraction. (The prune
 * `until` filter has its own text, the fallback above.)
 */
export function timestampQueryError(value: string): string | undefined {
  if (value.includes('-')) return undefined;
  const dot = value.indexOf('.');
  for (const part of dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)]) {
    if (!/^[+-]?\d+$/.test(part)) return `strconv.ParseInt: parsing ${JSON.stringify(part)}: invalid syntax`;
    const n = BigInt(part);
    if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return `strconv.ParseInt: parsing ${JSON.stringify(part)}: value out of range`;
  }
  return undefined;
}

/** RFC 3339 and its shortened forms as timetypes.GetTimestamp knows them; nanoseconds kept. */
function parseDockerDate(v: string): bigint | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  // no zone: the server's local time zone, as Go's ParseInLocation(time.Local)
  const ms = zone ? Date.parse(`${iso}${zone.toUpperCase() === 'Z' ? 'Z' : zone}`) : new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, '0') || '0');
}

/**
 * An event's timeNano as a bigint for comparisons. JSON numbers near 1.7e18 parse
 * to doubles 256 ns apart, so the value is rounded to the microsecond (exact in a
 * double): an event stamped exactly at `until` must not land a few ns after it.
 */
export function eventNanos(timeNano: number | undefined, time: number | undefined): bigint {
  if (typeof timeNano === 'number' && Number.isFinite(timeNano)) return BigInt(Math.round(timeNano / 1000)) * 1000n;
  return BigInt(Math.trunc(time ?? 0)) * NS_PER_S;
}

/** Nanoseconds as the RFC 3339 text JetStream takes for opt_start_time (millisecond precision, rounded down). */
export function nanosToIso(ns: bigint): string {
  return new Date(Number(ns / NS_PER_MS)).toISOString();
}
