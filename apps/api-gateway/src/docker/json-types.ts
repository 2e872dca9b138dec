import { InvalidArgumentError } from '@drydock/errors';

/**
 * Typed reads of a decoded JSON body with dockerd's error texts. dockerd decodes
 * request bodies into Go structs, so a wrong type reads like Go's
 * encoding/json error ("json: cannot unmarshal string into Go struct field
 * ContainerConfigWrapper.Memory of type int64"); clients and scripts match on it.
 */
export class JsonReader {
  constructor(private readonly structName: string) {}

  private fail(path: string, value: unknown, goType: string): never {
    const kind = jsonKind(value);
    const shown = kind === 'number' ? `number ${String(value)}` : kind;
    throw new InvalidArgumentError(`json: cannot unmarshal ${shown} into Go struct field ${this.structName}.${path} of type ${goType}`);
  }

  /** The object at `key` (null/absent -> undefined). */
  obj(o: Record<string, unknown>, key: string, path = key): Record<string, unknown> | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(path, v, 'struct');
    return v as Record<string, unknown>;
  }

  str(o: Record<string, unknown>, key: string, path = key): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(path, v, 'string');
    return v;
  }

  bool(o: Record<string, unknown>, key: string, path = key): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(path, v, 'bool');
    return v;
  }

  /** A Go int64/int field; returned as a decimal string (proto int64 in TS). */
  int(o: Record<string, unknown>, key: string, path = key, goType = 'int64'): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, v, goType);
    const n = BigInt(v);
    // Go's decoder refuses numbers that overflow the field ("cannot unmarshal number 1e+30 ... of type int64")
    if (n > 9223372036854775807n || n < -9223372036854775808n) this.fail(path, v, goType);
    return n.toString();
  }

  /** []string; null stays undefined so "unset" and "empty" differ. */
  strList(o: Record<string, unknown>, key: string, path = key): string[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(path, v, '[]string');
    for (const x of v) if (typeof x !== 'string') this.fail(path, x, 'string');
    return v as string[];
  }

  /** strslice.StrSlice (Cmd, Entrypoint): a JSON string is accepted as a one-element list, as dockerd does. */
  strSlice(o: Record<string, unknown>, key: string, path = key): string[] | undefined {
    const v = o[key];
    if (typeof v === 'string') return [v];
    return this.strList(o, key, path);
  }

  strMap(o: Record<string, unknown>, key: string, path = key): Record<string, string> | undefined {
    const v = this.obj(o, key, path);
    if (!v) return undefined;
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') this.fail(`${path}.${k}`, x, 'string');
    return v as Record<string, string>;
  }

  /** map[string]struct{} (ExposedPorts, Volumes): only the keys count. */
  keySet(o: Record<string, unknown>, key: string, path = key): string[] | undefined {
    const v = this.obj(o, key, path);
    return v ? Object.keys(v) : undefined;
  }

  /** An array of objects (HostConfig.Mounts). */
  objList(o: Record<string, unknown>, key: string, path = key, goType = '[]struct'): Record<string, unknown>[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(path, v, goType);
    for (const x of v) if (x === null || typeof x !== 'object' || Array.isArray(x)) this.fail(path, x, goType.replace(/^\[\]/, ''));
    return v as Record<string, unknown>[];
  }
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  return typeof v; // string, number, boolean
}

/** dockerd's httputils.BoolValue: anything but "", "0", "no", "false", "none" is true. */
export function boolQuery(q: URLSearchParams, key: string): boolean {
  const s = (q.get(key) ?? '').trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** An integer query parameter; absent or empty -> undefined; junk -> 400 with Go's strconv text. */
export function intQuery(q: URLSearchParams, key: string): number | undefined {
  const s = q.get(key);
  if (s === null || s === '') return undefined;
  if (!/^[-+]?\d+$/.test(s)) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

/** A JSON.parse failure in Go's encoding/json words ("invalid character 'x' looking for beginning of value"). */
export function goJsonSyntaxError(raw: string, err: Error): string {
  const pos = /position (\d+)/.exec(err.message);
  if (pos && Number(pos[1]) < raw.length) return `invalid character '${raw[Number(pos[1])]}' looking for beginning of value`;
  return 'unexpected EOF';
}
