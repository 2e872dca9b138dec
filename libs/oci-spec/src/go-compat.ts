/**
 * Small re-implementations of Go standard-library behaviour that shows through in Docker's error
 * texts and parsing rules (strconv.Quote, strconv.Atoi, time.ParseDuration). Internal to the lib.
 */

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Go's strconv.Atoi: optional sign and decimal digits within int64, else undefined. */
export function goAtoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const big = BigInt(s);
  if (big > INT64_MAX || big < INT64_MIN) return undefined;
  return Number(big);
}

/** Go's strconv.ParseUint(s, 10, bits) success value, else undefined. */
export function goParseUint(s: string, bits: number): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const big = BigInt(s);
  if (big >= 1n << BigInt(bits)) return undefined;
  return Number(big);
}

/** Go's strconv.Quote (what `%q` and `%#v` print for a string), for the characters we meet. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0xad) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`. */
export function goQuoteSlice(items: string[]): string {
  return '[' + items.map(goQuote).join(' ') + ']';
}

const durationUnits: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5
  'μs': 1e3, // U+03BC
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's time.ParseDuration, returning nanoseconds (a JS number: exact up to about 104 days).
 * Throws an Error with Go's message (`time: invalid duration "x"` and friends).
 */
export function parseGoDuration(orig: string): number {
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error('time: invalid duration ' + goQuote(orig));
  let total = 0;
  while (s !== '') {
    // The next character must be [0-9.].
    if (!(s[0] === '.' || (s[0] >= '0' && s[0] <= '9'))) throw new Error('time: invalid duration ' + goQuote(orig));
    const m = /^([0-9]*)(\.([0-9]*))?/.exec(s)!;
    const intPart = m[1];
    const fracPart = m[3] ?? '';
    const hadDot = m[2] !== undefined;
    if (intPart === '' && fracPart === '') throw new Error('time: invalid duration ' + goQuote(orig));
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') throw new Error('time: missing unit in duration ' + goQuote(orig));
    const unit = durationUnits[u];
    if (unit === undefined) throw new Error('time: unknown unit ' + goQuote(u) + ' in duration ' + goQuote(orig));
    s = s.slice(u.length);
    const value = Number(intPart || '0') * unit + (hadDot && fracPart !== '' ? Number('0.' + fracPart) * unit : 0);
    total += Math.floor(value);
    if (total > 9223372036854775807) throw new Error('time: invalid duration ' + goQuote(orig));
  }
  return neg ? -total : total;
}

/** Go's unicode.IsSpace for one character. */
export function goIsSpace(ch: string): boolean {
  const c = ch.codePointAt(0);
  if (c === undefined) return false;
  if (c <= 0xff) return (c >= 9 && c <= 13) || c === 32 || c === 0x85 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}
