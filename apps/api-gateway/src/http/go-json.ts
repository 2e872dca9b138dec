import { InvalidArgumentError } from '@drydock/errors';

/**
 * Request bodies decoded the way dockerd's Go encoding/json (Go 1.19, as Debian builds
 * dockerd 20.10) decodes them into its structs, with the same error texts: clients and
 * scripts match on "json: cannot unmarshal string into Go struct field ExecConfig.Cmd of
 * type []string". A schema library cannot give these: Go matches keys case-insensitively,
 * ignores unknown keys, reports the first type error in document order, quotes number
 * literals as written ("number 1e3"), and a syntax error anywhere beats every type error
 * (the decoder scans the whole value first). So: a byte-level parser with Go's scanner
 * messages builds a small tree, then a typed schema walks it.
 */

// ---------------------------------------------------------------- syntax

/** A parsed JSON value; numbers keep their literal, objects their key order and duplicates. */
export type JsonNode =
  | { t: 'obj'; entries: [string, JsonNode][]; s: number; e: number }
  | { t: 'arr'; items: JsonNode[]; s: number; e: number }
  | { t: 'str'; v: string; s: number; e: number }
  | { t: 'num'; raw: string; s: number; e: number }
  | { t: 'bool'; v: boolean; s: number; e: number }
  | { t: 'null'; s: number; e: number };

/** Go's encoding/json limit on nesting (scanner.maxNestingDepth). */
const MAX_DEPTH = 10000;

/** A Go *json.SyntaxError text, or io.EOF / io.ErrUnexpectedEOF. */
export class GoJsonSyntaxError extends InvalidArgumentError {
  constructor(
    message: string,
    /** true when the input had no value at all (Go's io.EOF). */
    readonly eof = false,
  ) {
    super(message);
  }
}

/** Go's quoteChar: the offending byte as Go prints it in a syntax error. */
function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const short: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };
  if (short[c]) return `'${short[c]}'`;
  // strconv.Quote of the rune with the byte's value: controls are escaped, the rest printed
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if (c >= 0x80 && c < 0xa0) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  if (c === 0xa0 || c === 0xad) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

type Frame = { kind: 'obj'; node: Extract<JsonNode, { t: 'obj' }>; key?: string } | { kind: 'arr'; node: Extract<JsonNode, { t: 'arr' }> };

/**
 * Parses the first JSON value of `buf` as Go's json.Decoder does: what follows the value
 * is not read. Iterative, so a deeply nested body cannot overflow the stack.
 */
export function parseGoJson(buf: Uint8Array): JsonNode {
  let i = 0;
  const n = buf.length;
  const fail = (context: string): never => {
    if (i >= n) throw new GoJsonSyntaxError('unexpected EOF');
    throw new GoJsonSyntaxError(`invalid character ${quoteChar(buf[i])} ${context}`);
  };
  const skipWs = () => {
    while (i < n && isWs(buf[i])) i++;
  };
  skipWs();
  if (i >= n) throw new GoJsonSyntaxError('EOF', true);

  const stack: Frame[] = [];
  let root: JsonNode | undefined;

  const literal = (word: string, node: JsonNode): JsonNode => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (i >= n) fail('');
      if (buf[i] !== word.charCodeAt(k)) fail(`in literal ${word} (expecting '${word[k]}')`);
    }
    i++;
    node.e = i;
    return node;
  };

  const string = (): string => {
    // buf[i] is the opening quote
    const start = ++i;
    let out = '';
    let chunk = start;
    for (;;) {
      if (i >= n) fail('');
      const c = buf[i];
      if (c === 0x22) {
        out += Buffer.from(buf.buffer, buf.byteOffset + chunk, i - chunk).toString('utf8');
        i++;
        return out;
      }
      if (c < 0x20) fail('in string literal');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += Buffer.from(buf.buffer, buf.byteOffset + chunk, i - chunk).toString('utf8');
      i++;
      if (i >= n) fail('');
      const e = buf[i];
      const simple: Record<number, string> = { 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t', 0x5c: '\\', 0x2f: '/', 0x22: '"' };
      if (simple[e] !== undefined) {
        out += simple[e];
        i++;
      } else if (e === 0x75) {
        i++;
        const hex = () => {
          let v = 0;
          for (let k = 0; k < 4; k++) {
            if (i >= n) fail('');
            if (!isHex(buf[i])) fail('in \\u hexadecimal character escape');
            v = v * 16 + parseInt(String.fromCharCode(buf[i]), 16);
            i++;
          }
          return v;
        };
        const u = hex();
        if (u >= 0xd800 && u < 0xdc00 && buf[i] === 0x5c && buf[i + 1] === 0x75) {
          // a surrogate pair; Go replaces a lone surrogate by U+FFFD
          const save = i;
          i += 2;
          const lo = hex();
          if (lo >= 0xdc00 && lo < 0xe000) out += String.fromCharCode(u, lo);
          else {
            out += '\ufffd';
            i = save;
          }
        } else out += u >= 0xd800 && u < 0xe000 ? '\ufffd' : String.fromCharCode(u);
      } else fail('in string escape code');
      chunk = i;
    }
  };

  const number = (): string => {
    const start = i;
    if (buf[i] === 0x2d) {
      i++;
      if (i >= n) fail('');
      if (!isDigit(buf[i])) fail('in numeric literal');
    }
    if (buf[i] === 0x30) i++;
    else while (i < n && isDigit(buf[i])) i++;
    if (i < n && buf[i] === 0x2e) {
      i++;
      if (i >= n) fail('');
      if (!isDigit(buf[i])) fail('after decimal point in numeric literal');
      while (i < n && isDigit(buf[i])) i++;
    }
    if (i < n && (buf[i] === 0x65 || buf[i] === 0x45)) {
      i++;
      if (i < n && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
      if (i >= n) fail('');
      if (!isDigit(buf[i])) fail('in exponent of numeric literal');
      while (i < n && isDigit(buf[i])) i++;
    }
    // the decoder needs to see what ends a top-level number; at EOF it is complete
    return Buffer.from(buf.buffer, buf.byteOffset + start, i - start).toString('latin1');
  };

  // the value loop: read a value, then attach it to the innermost open container
  for (;;) {
    skipWs();
    if (i >= n) fail('');
    const c = buf[i];
    const s = i;
    let value: JsonNode | undefined;
    if (c === 0x7b || c === 0x5b) {
      if (stack.length >= MAX_DEPTH) fail('exceeded max depth');
      i++;
      skipWs();
      if (c === 0x7b) {
        const node: Extract<JsonNode, { t: 'obj' }> = { t: 'obj', entries: [], s, e: s };
        if (i < n && buf[i] === 0x7d) {
          i++;
          node.e = i;
          value = node;
        } else {
          if (i >= n) fail('');
          if (buf[i] !== 0x22) fail('looking for beginning of object key string');
          const key = string();
          skipWs();
          if (i >= n) fail('');
          if (buf[i] !== 0x3a) fail('after object key');
          i++;
          stack.push({ kind: 'obj', node, key });
          continue;
        }
      } else {
        const node: Extract<JsonNode, { t: 'arr' }> = { t: 'arr', items: [], s, e: s };
        if (i < n && buf[i] === 0x5d) {
          i++;
          node.e = i;
          value = node;
        } else {
          stack.push({ kind: 'arr', node });
          continue;
        }
      }
    } else if (c === 0x22) value = { t: 'str', v: string(), s, e: i };
    else if (c === 0x2d || isDigit(c)) value = { t: 'num', raw: number(), s, e: i };
    else if (c === 0x74) value = literal('true', { t: 'bool', v: true, s, e: s });
    else if (c === 0x66) value = literal('false', { t: 'bool', v: false, s, e: s });
    else if (c === 0x6e) value = literal('null', { t: 'null', s, e: s });
    else fail('looking for beginning of value');

    // close every container this value completes
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) {
        root = value!;
        break;
      }
      skipWs();
      if (top.kind === 'obj') {
        top.node.entries.push([top.key!, value!]);
        if (i >= n) fail('');
        if (buf[i] === 0x2c) {
          i++;
          skipWs();
          if (i >= n) fail('');
          if (buf[i] !== 0x22) fail('looking for beginning of object key string');
          top.key = string();
          skipWs();
          if (i >= n) fail('');
          if (buf[i] !== 0x3a) fail('after object key');
          i++;
          value = undefined;
          break;
        }
        if (buf[i] !== 0x7d) fail('after object key:value pair');
      } else {
        top.node.items.push(value!);
        if (i >= n) fail('');
        if (buf[i] === 0x2c) {
          i++;
          value = undefined;
          break;
        }
        if (buf[i] !== 0x5d) fail('after array element');
      }
      i++;
      top.node.e = i;
      value = top.node;
      stack.pop();
    }
    if (root) return root;
  }
}

// ---------------------------------------------------------------- types

/** Where a value sits: the innermost Go struct and the field path from the root (Go's errorContext). */
interface Where {
  struct?: string;
  fields: string[];
}

/** Go's *json.UnmarshalTypeError text. */
export class GoJsonTypeError extends InvalidArgumentError {}

function kindOf(n: JsonNode): string {
  return { obj: 'object', arr: 'array', str: 'string', num: 'number', bool: 'bool', null: 'null' }[n.t];
}

function typeError(value: string, goType: string, w: Where): never {
  if (w.struct !== undefined && w.fields.length > 0) {
    throw new GoJsonTypeError(`json: cannot unmarshal ${value} into Go struct field ${w.struct}.${w.fields.join('.')} of type ${goType}`);
  }
  throw new GoJsonTypeError(`json: cannot unmarshal ${value} into Go value of type ${goType}`);
}

/** A Go type: its name in error texts, how a node decodes into it, and its zero value (for null inside lists and maps). */
export interface GoType<T> {
  readonly goName: string;
  /** undefined: JSON null or, for structs' fields, "not set". */
  decode(n: JsonNode, w: Where, into?: T): T | undefined;
  readonly zero: T | undefined;
}

export type Infer<G> = G extends GoType<infer T> ? T : never;

const wrongKind = (goName: string, n: JsonNode, w: Where): never => typeError(kindOf(n), goName, w);

/** string, or a named string type (mount.Type, container.NetworkMode). */
export function goString(goName = 'string'): GoType<string> {
  return {
    goName,
    zero: '',
    decode: (n, w) => (n.t === 'null' ? undefined : n.t === 'str' ? n.v : wrongKind(goName, n, w)),
  };
}

export function goBool(goName = 'bool'): GoType<boolean> {
  return {
    goName,
    zero: false,
    decode: (n, w) => (n.t === 'null' ? undefined : n.t === 'bool' ? n.v : wrongKind(goName, n, w)),
  };
}

const INT_RANGE: Record<string, [bigint, bigint, boolean]> = {
  int: [-(2n ** 63n), 2n ** 63n - 1n, true],
  int64: [-(2n ** 63n), 2n ** 63n - 1n, true],
  'time.Duration': [-(2n ** 63n), 2n ** 63n - 1n, true],
  int32: [-(2n ** 31n), 2n ** 31n - 1n, true],
  uint: [0n, 2n ** 64n - 1n, false],
  uint64: [0n, 2n ** 64n - 1n, false],
  uint32: [0n, 2n ** 32n - 1n, false],
  'fs.FileMode': [0n, 2n ** 32n - 1n, false],
  uint16: [0n, 2n ** 16n - 1n, false],
};

/** A Go integer type; decoded as bigint (int64 values do not fit a JS number). */
export function goInt(goName: keyof typeof INT_RANGE): GoType<bigint> {
  const [min, max, signed] = INT_RANGE[goName];
  return {
    goName,
    zero: 0n,
    decode: (n, w) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'num') return wrongKind(goName, n, w);
      // strconv.ParseInt / ParseUint: no fraction, no exponent; unsigned takes no sign at all
      if (!(signed ? /^-?\d+$/ : /^\d+$/).test(n.raw)) return typeError(`number ${n.raw}`, goName, w);
      const v = BigInt(n.raw);
      if (v < min || v > max) return typeError(`number ${n.raw}`, goName, w);
      return v;
    },
  };
}

export function goFloat(goName = 'float64'): GoType<number> {
  return {
    goName,
    zero: 0,
    decode: (n, w) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'num') return wrongKind(goName, n, w);
      const v = Number(n.raw);
      if (!Number.isFinite(v)) return typeError(`number ${n.raw}`, goName, w);
      return v;
    },
  };
}

/** []T; null is a nil slice (undefined), a null element the element's zero value. */
export function goSlice<T>(elem: GoType<T>, goName = `[]${elem.goName}`): GoType<T[]> {
  return {
    goName,
    zero: undefined,
    decode: (n, w) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'arr') return wrongKind(goName, n, w);
      return n.items.map((x) => (x.t === 'null' ? elem.zero : elem.decode(x, w)) as T);
    },
  };
}

/** [N]T: extra elements are dropped, missing ones are zero (Go's array decoding). */
export function goArray<T>(elem: GoType<T>, len: number): GoType<T[]> {
  const goName = `[${len}]${elem.goName}`;
  return {
    goName,
    zero: undefined,
    decode: (n, w) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'arr') return wrongKind(goName, n, w);
      const out: T[] = [];
      for (let k = 0; k < len; k++) {
        const x = n.items[k];
        out.push((x === undefined || x.t === 'null' ? elem.zero : elem.decode(x, w)) as T);
      }
      return out;
    },
  };
}

/** map[string]T, as an object without prototype (keys such as "__proto__" are plain keys). */
export function goMap<T>(elem: GoType<T>, goName = `map[string]${elem.goName}`): GoType<Record<string, T>> {
  return {
    goName,
    zero: undefined,
    decode: (n, w, into) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'obj') return wrongKind(goName, n, w);
      // Go keeps decoding into an existing map (a repeated key merges)
      const out: Record<string, T> = into ?? Object.create(null);
      for (const [k, x] of n.entries) out[k] = (x.t === 'null' ? elem.zero : elem.decode(x, w, out[k])) as T;
      return out;
    },
  };
}

/** moby's strslice.StrSlice (Cmd, Entrypoint, CapAdd): a list of strings, or one string. */
export function goStrSlice(): GoType<string[]> {
  return {
    goName: 'strslice.StrSlice',
    zero: undefined,
    decode: (n, w) => {
      if (n.t === 'null') return undefined;
      if (n.t === 'str') return [n.v];
      if (n.t === 'arr' && n.items.every((x) => x.t === 'str' || x.t === 'null')) return n.items.map((x) => (x.t === 'str' ? x.v : ''));
      // its UnmarshalJSON falls back to a plain string, so that is the error Go reports
      return typeError(kindOf(n), 'string', w);
    },
  };
}

/** interface{}: any JSON value, as JSON.parse gives it (numbers as float64, like Go). */
export function goAny(): GoType<unknown> {
  return {
    goName: 'interface {}',
    zero: undefined,
    decode: (n) => (n.t === 'null' ? undefined : plain(n)),
  };
}

function plain(n: JsonNode): unknown {
  switch (n.t) {
    case 'str':
      return n.v;
    case 'num':
      return Number(n.raw);
    case 'bool':
      return n.v;
    case 'null':
      return null;
    case 'arr':
      return n.items.map(plain);
    case 'obj': {
      const o: Record<string, unknown> = Object.create(null);
      for (const [k, v] of n.entries) o[k] = plain(v);
      return o;
    }
  }
}

type Fields = Record<string, GoType<unknown>>;
export type StructOf<F extends Fields> = { [K in keyof F]?: Infer<F[K]> };

/**
 * A Go struct. `name` is the short type name Go's errors show as the struct
 * ("HostConfig"), `goName` the qualified one for a value of the wrong kind
 * ("container.HostConfig"). Field keys are the JSON names (tags applied); embedded
 * structs are listed flat, as Go promotes their fields. Keys match exactly, else
 * case-insensitively; unknown keys are ignored; null leaves a field unset.
 */
export function goStruct<F extends Fields>(name: string, goName: string, fields: F): GoType<StructOf<F>> & { fields: F } {
  const exact = new Map(Object.keys(fields).map((k) => [k, k]));
  const folded = new Map(Object.keys(fields).map((k) => [k.toLowerCase(), k]));
  return {
    goName,
    fields,
    get zero() {
      return {};
    },
    decode: (n, w, into) => {
      if (n.t === 'null') return undefined;
      if (n.t !== 'obj') return wrongKind(goName, n, w);
      const out = (into ?? {}) as Record<string, unknown>;
      for (const [key, x] of n.entries) {
        const f = exact.get(key) ?? folded.get(key.toLowerCase());
        if (f === undefined) continue;
        const inner: Where = { struct: name, fields: [...w.fields, f] };
        // a repeated key decodes into what the earlier one left (structs and maps merge)
        const v = fields[f].decode(x, inner, out[f]);
        if (v === undefined) {
          // null: Go leaves a value alone, but a nil-able field (slice, map, pointer) becomes nil
          if (x.t === 'null' && fields[f].zero === undefined) delete out[f];
          continue;
        }
        out[f] = v;
      }
      return out as StructOf<F>;
    },
  };
}

/** Like json.Unmarshal (not a Decoder): only whitespace may follow the value. */
export function parseGoJsonWhole(buf: Uint8Array): JsonNode {
  const node = parseGoJson(buf);
  for (let i = node.e; i < buf.length; i++) {
    if (!isWs(buf[i])) throw new GoJsonSyntaxError(`invalid character ${quoteChar(buf[i])} after top-level value`);
  }
  return node;
}

/** Decodes a parsed value into a type (top level: no struct context). */
export function decodeGo<T>(type: GoType<T>, node: JsonNode): T | undefined {
  return type.decode(node, { fields: [] });
}

// ---------------------------------------------------------------- request bodies

/** A body and what dockerd says when it is empty (its handlers differ). */
export interface JsonBody<T> {
  type: GoType<T>;
  emptyMessage: string;
}

/**
 * Decodes a request body into its type: syntax errors, an empty body and type errors are
 * 400s with Go's texts (dockerd answers some of them with 500, the client's fault all the
 * same). JSON null gives undefined (Go leaves the struct at its zero value).
 */
export function decodeBody<T>(body: JsonBody<T>, raw: Uint8Array): T | undefined {
  let node;
  try {
    node = parseGoJson(raw);
  } catch (err) {
    if (err instanceof GoJsonSyntaxError && err.eof) throw new InvalidArgumentError(body.emptyMessage);
    throw err;
  }
  return decodeGo(body.type, node);
}
