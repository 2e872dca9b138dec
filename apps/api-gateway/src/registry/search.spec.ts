import { parseSearchQuery } from './search';
import type { SearchResult } from './registry-proxy-client';

const q = (s: Record<string, string>) => new URLSearchParams(s);
const row = (x: Partial<SearchResult>): SearchResult => ({ name: 'n', description: '', star_count: 0, is_official: false, is_automated: false, ...x });

describe('parseSearchQuery: dockerd 20.10 checks, texts and statuses', () => {
  it('defaults the limit to 25 and keeps every row without filters', () => {
    const p = parseSearchQuery(q({ term: '127.0.0.1:5555/busybox' }));
    expect(p).toMatchObject({ term: '127.0.0.1:5555/busybox', limit: 25 });
    expect(p.keep(row({}))).toBe(true);
  });

  // each text recorded from dockerd 20.10 (GET /v1.41/images/search)
  it.each([
    [{ term: 'x', limit: '200' }, 'INVALID_ARGUMENT', 'Limit 200 is outside the range of [1, 100]'],
    [{ term: 'x', limit: '0' }, 'INVALID_ARGUMENT', 'Limit 0 is outside the range of [1, 100]'],
    [{ term: 'x', limit: 'abc' }, 'INVALID_ARGUMENT', 'strconv.Atoi: parsing "abc": invalid syntax'],
    [{ term: 'x', filters: '{"foo":{"x":true}}' }, 'INVALID_ARGUMENT', "Invalid filter 'foo'"],
    [{ term: 'x', filters: '{"stars":{"x":true}}' }, 'INVALID_ARGUMENT', "Invalid filter 'stars=x'"],
    [{ term: 'x', limit: '-1', filters: '{"is-official":{"x":true}}' }, 'INVALID_ARGUMENT', "Invalid filter 'is-official=[x]'"],
    [{ term: 'x', filters: 'bad' }, 'INVALID_ARGUMENT', "invalid character 'b' looking for beginning of value"],
    [{ term: 'http://127.0.0.1:5555/busybox' }, 'INVALID_ARGUMENT', 'Invalid repository name (ex: "registry.domain.tld/myrepos")'],
  ])('%j -> %s %s', (params, code, message) => {
    expect(() => parseSearchQuery(q(params))).toThrow(expect.objectContaining({ code, message }));
  });

  it('filters on is-official, is-automated and the highest stars value', () => {
    const p = parseSearchQuery(q({ term: 'x', filters: JSON.stringify({ 'is-official': { true: true }, 'is-automated': { false: true }, stars: { '3': true, '5': true } }) }));
    expect(p.keep(row({ is_official: true, star_count: 5 }))).toBe(true);
    expect(p.keep(row({ is_official: true, star_count: 4 }))).toBe(false);
    expect(p.keep(row({ is_official: false, star_count: 9 }))).toBe(false);
    expect(p.keep(row({ is_official: true, is_automated: true, star_count: 9 }))).toBe(false);
  });
});
