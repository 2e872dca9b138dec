/**
 * Go encoding/json's decoding errors, in its words: `docker load` reports a
 * bogus manifest.json or image config with the text Go's decoder produced
 * (scanner syntax errors, UnmarshalTypeError). Only the checks need to be Go's;
 * values are read with JSON.parse once the text is known to be valid.
 */

/** Go's quoteChar (strconv.Quote of the byte as a rune, in single quotes). */
function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const short: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r', 92: '\\' };
  if (short[c]) return `'\\${short[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if (c >= 0x80 && c < 0xa0) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

/**
 * Scans `buf` like Go's scanner and returns its first syntax error, or
 * undefined. `decoder`: json.Decoder semantics (one value, trailing data
 * ignored, "unexpected EOF"/"EOF"); otherwise json.Unmarshal's.
 */
export function goSyntaxError(buf: Buffer, decoder: boolean): string | undefined {
  return goScan(buf, decoder).error;
}

/** The scan: the first syntax error, and where the (first) value ends. */
export function goScan(buf: Buffer, decoder: boolean): { error?: string; end: number } {
  let i = 0;
  const n = buf.length;
  const ws = () => {
    while (i < n && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  };
  const eof = decoder ? 'unexpected EOF' : 'unexpected end of JSON input';
  class Fail extends Error {}
  const fail = (msg: string): never => {
    throw new Fail(msg);
  };
  const bad = (context: string): never => (i >= n ? fail(eof) : fail(`invalid character ${quoteChar(buf[i])} ${context}`));
  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

  const literal = (word: string) => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (i >= n) fail(eof);
      if (buf[i] !== word.charCodeAt(k)) bad(`in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
    }
    i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= n) fail(eof);
      const c = buf[i];
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        i++;
        if (i >= n) fail(eof);
        if ('"\\/bfnrt'.includes(String.fromCharCode(buf[i]))) i++;
        else if (buf[i] === 0x75) {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (i >= n) fail(eof);
            if (!/[0-9a-fA-F]/.test(String.fromCharCode(buf[i]))) bad('in \\u hexadecimal character escape');
          }
        } else bad('in string escape code');
        continue;
      }
      if (c < 0x20) bad('in string literal');
      i++;
    }
  };
  const number = () => {
    if (buf[i] === 0x2d) {
      i++;
      if (i >= n) fail(eof);
      if (!isDigit(buf[i])) bad('in numeric literal');
    }
    if (buf[i] === 0x30) i++;
    else while (i < n && isDigit(buf[i])) i++;
    if (i < n && buf[i] === 0x2e) {
      i++;
      if (i >= n) fail(eof);
      if (!isDigit(buf[i])) bad('after decimal point in numeric literal');
      while (i < n && isDigit(buf[i])) i++;
    }
    if (i < n && (buf[i] === 0x65 || buf[i] === 0x45)) {
      i++;
      if (i < n && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
      if (i >= n) fail(eof);
      if (!isDigit(buf[i])) bad('in exponent of numeric literal');
      while (i < n && isDigit(buf[i])) i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= n) fail(eof);
    const c = buf[i];
    if (c === 0x7b) {
      i++;
      ws();
      if (buf[i] === 0x7d) {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (buf[i] !== 0x22) bad('looking for beginning of object key string');
        string();
        ws();
        if (buf[i] !== 0x3a) bad('after object key');
        i++;
        value();
        ws();
        if (buf[i] === 0x2c) {
          i++;
          continue;
        }
        if (buf[i] === 0x7d) {
          i++;
          return;
        }
        bad('after object key:value pair');
      }
    }
    if (c === 0x5b) {
      i++;
      ws();
      if (buf[i] === 0x5d) {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (buf[i] === 0x2c) {
          i++;
          continue;
        }
        if (buf[i] === 0x5d) {
          i++;
          return;
        }
        bad('after array element');
      }
    }
    if (c === 0x22) return string();
    if (c === 0x2d || isDigit(c)) return number();
    if (c === 0x74) return literal('true');
    if (c === 0x66) return literal('false');
    if (c === 0x6e) return literal('null');
    bad('looking for beginning of value');
  };
  try {
    ws();
    if (decoder && i >= n) return { error: 'EOF', end: i };
    value();
    const end = i;
    if (!decoder) {
      ws();
      if (i < n) bad('after top-level value');
    }
    return { end };
  } catch (err) {
    if (err instanceof Fail) return { error: err.message, end: i };
    throw err;
  }
}

/** The JSON kind Go names in "cannot unmarshal X into ...". */
export function goKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === true || v === false) return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** json.UnmarshalTypeError's text. `where` is `Go value of type T` or `Go struct field S.f of type T`. */
export function goTypeError(v: unknown, where: string): string {
  return `json: cannot unmarshal ${goKind(v)} into ${where}`;
}

/**
 * Go's field lookup during decoding: keys in order, exact or case-insensitive,
 * the last match wins.
 */
export function goField(obj: Record<string, unknown>, name: string): unknown {
  let found: unknown;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k === name || k.toLowerCase() === lower) found = v;
  return found;
}
