import { goQuote, goQuoteSlice, type HealthConfig } from '@drydock/oci-spec';

/** time.Duration.String() for nanoseconds: "0s", "1.5s", "500ms", "1m30s", "1h0m0s". */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = trimFloat(u / (div as number)) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = trimFloat(u / 1e9) + 's';
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? '-' + out : out;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}

/** Go's %q of an int (a rune literal): 0 -> '\x00', 65 -> 'A'. */
function goQuoteRune(n: number): string {
  if (n === 39) return "'\\''";
  if (n === 92) return "'\\\\'";
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
  if (named[n]) return `'${named[n]}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCodePoint(n)}'`;
}

/** fmt.Sprintf("%q", *container.HealthConfig): what HEALTHCHECK's history entry prints. */
export function goQuoteHealth(h: HealthConfig): string {
  return `&{${goQuoteSlice(h.Test ?? [])} ${goQuote(goDuration(h.Interval ?? 0))} ${goQuote(goDuration(h.Timeout ?? 0))} ${goQuote(goDuration(h.StartPeriod ?? 0))} ${goQuoteRune(h.Retries ?? 0)}}`;
}

/** fmt's %v of a []string: "[a b]". */
export function goList(items: readonly string[] | null | undefined): string {
  return `[${(items ?? []).join(' ')}]`;
}

export { goQuote, goQuoteSlice };
