import { parseEventTime } from '../events/event-time';

/**
 * dockerd's `until`/`since` filter timestamps (Unix seconds with fraction, RFC 3339,
 * or a Go duration back from `now`) as Unix milliseconds: the events parser's rules.
 */
export function parseFilterTime(v: string, nowMs: number): number {
  return Number(parseEventTime(v, new Date(nowMs))! / 1000000n);
}
