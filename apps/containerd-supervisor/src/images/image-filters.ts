import { InvalidArgumentError } from '@drydock/errors';
import { familiarString, type ImageReference } from './reference';

export interface Filter {
  key: string;
  values: string[];
}

/** What `docker images --filter` looks at for one image. */
export interface FilterableImage {
  id: string;
  /** Every reference naming the image, tags and digests, normalized. */
  references: ImageReference[];
  /** Config labels. */
  labels: Record<string, string>;
  /** Creation time in ms since the epoch. */
  createdMs: number;
}

/** dockerd 20.10's accepted image filter keys. */
const keys = new Set(['dangling', 'label', 'before', 'since', 'reference']);

export interface ImageFilter {
  /** Whether the image is listed at all. */
  matches(img: FilterableImage): boolean;
  /** The references to show for a listed image (a reference filter hides the others). */
  visibleReferences(img: FilterableImage): ImageReference[];
}

/**
 * Go's path.Match over `/`-separated names: `*` and `?` stop at `/`, `[...]`
 * classes with `^`/`!` negation and ranges, `\` escapes. Throws on a malformed pattern.
 */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= pattern.length) throw new InvalidArgumentError('syntax error in pattern');
      re += escapeRe(pattern[++i]);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidArgumentError('syntax error in pattern');
      let cls = pattern.slice(i + 1, end);
      let neg = false;
      if (cls.startsWith('^') || cls.startsWith('!')) {
        neg = true;
        cls = cls.slice(1);
      }
      re += `[${neg ? '^/' : ''}${cls.replace(/[\]\\]/g, (m) => '\\' + m)}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$').test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** distribution's FamiliarMatch: the pattern against `busybox:latest`, then against `busybox`. */
export function familiarMatch(pattern: string, ref: ImageReference): boolean {
  return pathMatch(pattern, familiarString(ref)) || pathMatch(pattern, ref.familiarName);
}

/** `key` or `key=value` against a label map, as Docker's MatchKVList. */
export function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  if (i < 0) return Object.prototype.hasOwnProperty.call(labels, filter);
  const k = filter.slice(0, i);
  return Object.prototype.hasOwnProperty.call(labels, k) && labels[k] === filter.slice(i + 1);
}

/**
 * Builds the predicate of `docker images --filter` with dockerd's semantics:
 * keys are AND-ed; `label` values are all required; `reference` values are
 * OR-ed and also restrict the references shown; `dangling=true` keeps untagged
 * images only. `lookupCreatedMs` resolves before/since (throws NotFound).
 */
export async function imageFilter(filters: Filter[], lookupCreatedMs: (ref: string) => Promise<number>): Promise<ImageFilter> {
  let dangling: boolean | undefined;
  const labels: string[] = [];
  const patterns: string[] = [];
  let beforeMs: number | undefined;
  let sinceMs: number | undefined;
  for (const { key, values } of filters) {
    if (!keys.has(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
    if (values.length === 0) continue;
    switch (key) {
      case 'dangling':
        // dockerd's ExactMatch: any value equal to "true" wins, then "false"; nothing else is accepted.
        if (values.includes('true')) dangling = true;
        else if (values.includes('false')) dangling = false;
        else throw new InvalidArgumentError(`Invalid filter 'dangling=[${values.join(' ')}]'`);
        break;
      case 'label':
        labels.push(...values);
        break;
      case 'reference':
        for (const p of values) pathMatch(p, ''); // reject malformed patterns up front
        patterns.push(...values);
        break;
      case 'before':
        for (const v of values) {
          const t = await lookupCreatedMs(v);
          beforeMs = beforeMs === undefined ? t : Math.min(beforeMs, t);
        }
        break;
      case 'since':
        for (const v of values) {
          const t = await lookupCreatedMs(v);
          sinceMs = sinceMs === undefined ? t : Math.max(sinceMs, t);
        }
        break;
    }
  }

  const visibleReferences = (img: FilterableImage) =>
    patterns.length === 0 ? img.references : img.references.filter((r) => patterns.some((p) => familiarMatch(p, r)));

  return {
    visibleReferences,
    matches(img) {
      if (beforeMs !== undefined && !(img.createdMs < beforeMs)) return false;
      if (sinceMs !== undefined && !(img.createdMs > sinceMs)) return false;
      if (!labels.every((l) => matchLabel(img.labels, l))) return false;
      const refs = visibleReferences(img);
      const tagged = refs.some((r) => r.tag !== undefined);
      if (refs.length === 0) {
        // Untagged: hidden by dangling=false and by any reference filter (dockerd does the same).
        if (dangling === false || patterns.length > 0) return false;
        return true;
      }
      if (dangling === true && tagged) return false;
      return true;
    },
  };
}
