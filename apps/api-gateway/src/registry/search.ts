import { InvalidArgumentError } from '@drydock/errors';
import { FilterArgs } from '../http/query';
import type { SearchResult } from './registry-proxy-client';

/** registry.DefaultSearchLimit */
export const DEFAULT_SEARCH_LIMIT = 25;

export interface SearchQuery {
  term: string;
  limit: number;
  /** Keeps the rows `docker search --filter` asks for. */
  keep: (r: SearchResult) => boolean;
}

/**
 * GET /images/search's parameters with dockerd's checks in dockerd's order
 * (router: limit syntax; daemon: filters; registry service: scheme, limit range)
 * and its texts and statuses.
 */
export function parseSearchQuery(q: URLSearchParams): SearchQuery {
  const term = q.get('term') ?? '';
  let limit = DEFAULT_SEARCH_LIMIT;
  const limitText = q.get('limit') ?? '';
  if (limitText !== '') {
    // dockerd answers these two with 500; the client's fault, so 400
    if (!/^[+-]?\d+$/.test(limitText)) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(limitText)}: invalid syntax`);
    limit = Number(limitText);
  }
  const keep = searchFilter(q.get('filters') ?? '');
  if (term.includes('://')) throw new InvalidArgumentError('Invalid repository name (ex: "registry.domain.tld/myrepos")');
  if (limit < 1 || limit > 100) throw new InvalidArgumentError(`Limit ${limit} is outside the range of [1, 100]`);
  return { term, limit, keep };
}

/** daemon/images/image_search.go: is-automated, is-official (true|false) and stars (minimum). */
function searchFilter(text: string): (r: SearchResult) => boolean {
  // dockerd: 500 for malformed filters; the client's fault, so FilterArgs' 400 with the same words
  const f = FilterArgs.fromJson(text);
  for (const key of f.keys()) if (!['is-automated', 'is-official', 'stars'].includes(key)) throw new InvalidArgumentError(`Invalid filter '${key}'`);
  const flag = (key: string): boolean | undefined => {
    if (!f.contains(key)) return undefined;
    const values = f.get(key);
    if (values.length === 1 && values[0] === 'true') return true;
    if (values.length === 1 && values[0] === 'false') return false;
    throw new InvalidArgumentError(`Invalid filter '${key}=[${values.join(' ')}]'`);
  };
  const automated = flag('is-automated');
  const official = flag('is-official');
  let minStars = 0;
  for (const s of f.get('stars')) {
    if (!/^[+-]?\d+$/.test(s)) throw new InvalidArgumentError(`Invalid filter 'stars=${s}'`);
    minStars = Math.max(minStars, Number(s));
  }
  const hasStars = f.contains('stars');
  return (r) => (automated === undefined || r.is_automated === automated) && (official === undefined || r.is_official === official) && (!hasStars || r.star_count >= minStars);
}
