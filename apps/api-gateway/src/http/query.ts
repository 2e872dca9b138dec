import { InvalidArgumentError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';

/**
 * Docker's `filters` query parameter (moby api/types/filters.Args): JSON
 * `{"key":{"value":true}}`, or the pre-1.22 form `{"key":["value"]}`. The
 * boolean is ignored, as in moby: every listed value counts.
 */
export class FilterArgs {
  private constructor(private readonly fields: Map<string, Set<string>>) {}

  static empty(): FilterArgs {
    return new FilterArgs(new Map());
  }

  /** Parses the query value; an empty value is no filter. Malformed JSON is a 400 like dockerd's. */
  static fromJson(text: string | null | undefined): FilterArgs {
    const fields = new Map<string, Set<string>>();
    if (!text) return new FilterArgs(fields);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`invalid filter: ${(err as Error).message}`, { cause: err });
    }
    if (raw === null) return new FilterArgs(fields);
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgumentError('invalid filter: expected a JSON object');
    for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
      const set = new Set<string>();
      if (Array.isArray(v)) {
        for (const x of v) if (typeof x === 'string') set.add(x);
      } else if (v && typeof v === 'object') {
        for (const x of Object.keys(v)) set.add(x);
      } else {
        throw new InvalidArgumentError(`invalid filter: values of "${key}" must be an object`);
      }
      fields.set(key, set);
    }
    return new FilterArgs(fields);
  }

  keys(): string[] {
    return [...this.fields.keys()];
  }

  get(key: string): string[] {
    return [...(this.fields.get(key) ?? [])];
  }

  contains(key: string): boolean {
    return this.fields.has(key);
  }

  /** True when the key is absent or `source` is one of its values. */
  exactMatch(key: string, source: string): boolean {
    const values = this.fields.get(key);
    if (!values || values.size === 0) return true;
    return values.has(source);
  }

  /** exactMatch, or some value is a prefix of `source` (ids and names given in part). */
  fuzzyMatch(key: string, source: string): boolean {
    const values = this.fields.get(key);
    if (!values || values.size === 0) return true;
    if (values.has(source)) return true;
    for (const v of values) if (source.startsWith(v)) return true;
    return false;
  }

  /** Every `k` / `k=v` value must be present in `sources` (labels). */
  matchKVList(key: string, sources: Record<string, string> | undefined): boolean {
    const values = this.fields.get(key);
    if (!values || values.size === 0) return true;
    if (!sources || Object.keys(sources).length === 0) return false;
    for (const v of values) {
      const i = v.indexOf('=');
      const k = i >= 0 ? v.slice(0, i) : v;
      if (!Object.prototype.hasOwnProperty.call(sources, k)) return false;
      if (i >= 0 && sources[k] !== v.slice(i + 1)) return false;
    }
    return true;
  }

  /** The supervisor's shape: one Filter per key, values OR-ed. */
  toProto(): supervisorV1.Filter[] {
    return [...this.fields.entries()].map(([key, values]) => ({ key, values: [...values] }));
  }
}

/** Docker's boolean query parameters (httputils.BoolValue): anything but "", "0", "no", "false", "none" is true. */
export function boolParam(q: URLSearchParams, key: string): boolean {
  const s = (q.get(key) ?? '').trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}
