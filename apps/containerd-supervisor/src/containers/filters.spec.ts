import { containerFilter, type FilterableContainer } from './filters';

const c = (over: Partial<FilterableContainer>): FilterableContainer => ({
  id: 'aaaa1111',
  name: 'web',
  image: 'busybox',
  imageId: 'sha256:beef1234',
  labels: {},
  status: 'running',
  exitCode: 0,
  createdNs: 10n,
  mountSources: [],
  mountDestinations: [],
  volumeNames: [],
  ...over,
});

describe('containerFilter', () => {
  const all = [c({}), c({ id: 'bbbb', name: 'db', labels: { tier: 'back', x: '' }, status: 'exited', exitCode: 3, createdNs: 20n, image: 'redis:7' })];
  const lookup = (ref: string) => all.find((x) => x.name === ref || x.id.startsWith(ref))!;
  const run = (filters: { key: string; values: string[] }[]) => all.filter(containerFilter(filters, lookup)).map((x) => x.name);

  it('ORs values and ANDs keys', () => {
    expect(run([{ key: 'status', values: ['running', 'exited'] }])).toEqual(['web', 'db']);
    expect(run([{ key: 'status', values: ['exited'] }, { key: 'label', values: ['tier=back'] }])).toEqual(['db']);
    expect(run([{ key: 'status', values: ['running'] }, { key: 'label', values: ['tier'] }])).toEqual([]);
  });

  it('matches names by regex, ids by prefix, exit codes, ancestors, before/since', () => {
    expect(run([{ key: 'name', values: ['^/?d'] }])).toEqual(['db']);
    expect(run([{ key: 'id', values: ['aaaa'] }])).toEqual(['web']);
    expect(run([{ key: 'exited', values: ['3'] }])).toEqual(['db']);
    expect(run([{ key: 'ancestor', values: ['busybox:latest'] }])).toEqual(['web']);
    expect(run([{ key: 'ancestor', values: ['beef'] }])).toEqual(['web', 'db']);
    expect(run([{ key: 'since', values: ['web'] }])).toEqual(['db']);
    expect(run([{ key: 'before', values: ['db'] }])).toEqual(['web']);
  });

  it('rejects unknown keys and values with Docker text', () => {
    expect(() => run([{ key: 'color', values: ['red'] }])).toThrow("Invalid filter 'color'");
    expect(() => run([{ key: 'status', values: ['sleeping'] }])).toThrow("Invalid filter 'status=sleeping'");
    expect(() => run([{ key: 'exited', values: ['x'] }])).toThrow("Invalid filter 'exited=x'");
  });
});
