import type { supervisorV1 } from '@drydock/proto';
import { decodeGo, goBool, goMap, goSlice, goString, parseGoJsonWhole } from './go-json';

/** filters.Args' JSON: {"key":{"value":true}}; before API 1.22 {"key":["value"]}. */
const FILTERS = goMap(goMap(goBool()));
const LEGACY_FILTERS = goMap(goSlice(goString()));

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

  /**
   * Parses the query value as moby's filters.FromJSON: an empty value is no filter;
   * malformed JSON or a wrong shape is a 400 with Go's text (dockerd: 500).
   */
  static fromJson(text: string | null | undefined): FilterArgs {
    const fields = new Map<string, Set<string>>();
    if (!text) return new FilterArgs(fields);
    const node = parseGoJsonWhole(Buffer.from(text, 'utf8'));
    let current: Record<string, Record<string, boolean>> | undefined;
    try {
      current = decodeGo(FILTERS, node);
    } catch (err) {
      let legacy: Record<string, string[]> | undefined;
      try {
        legacy = decodeGo(LEGACY_FILTERS, node);
      } catch {
        throw err;
      }
      for (const [k, v] of Object.entries(legacy ?? {})) fields.set(k, new Set(v ?? []));
      return new FilterArgs(fields);
    }
    for (const [k, v] of Object.entries(current ?? {})) fields.set(k, new Set(Object.keys(v ?? {})));
    return new FilterArgs(fields);
  }

  keys(): string[] {
    return [...this.fields.keys()];
  }

  /** The same filters without one key (a key the gateway handles itself). */
  without(key: string): FilterArgs {
    const fields = new Map(this.fields);
    fields.delete(key);
    return new FilterArgs(fields);
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
