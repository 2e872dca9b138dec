import { nextPage } from './remote-registry';

describe('tag list paging', () => {
  it('reads the next page of a Link header as distribution and registries behind proxies write it', () => {
    expect(nextPage('</v2/team/app/tags/list?last=b&n=2>; rel="next"')?.toString()).toBe('last=b&n=2');
    expect(nextPage('<https://r.example/v2/a/tags/list?n=100&last=x>;rel=next')?.get('last')).toBe('x');
    expect(nextPage(['<http://x/prev>; rel="prev"', '</v2/a/tags/list?last=z>; rel="next"'])?.get('last')).toBe('z');
    expect(nextPage('</v2/a/tags/list?last=z>; rel="prev"')).toBeUndefined();
    expect(nextPage(undefined)).toBeUndefined();
  });
});
