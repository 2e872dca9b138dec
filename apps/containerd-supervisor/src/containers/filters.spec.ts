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

  describe('network, publish and expose (daemon/list.go)', () => {
    const web = c({ name: 'web', networks: [{ name: 'app', id: 'abcdef1234' }], ports: [{ privatePort: 80, publicPort: 8080, type: 'tcp' }, { privatePort: 53, publicPort: 0, type: 'udp' }] });
    const db = c({ name: 'db', id: 'bbbb', networks: [{ name: 'bridge', id: 'ffff0000' }], ports: [] });
    const both = [web, db];
    const ps = (filters: { key: string; values: string[] }[]) => both.filter(containerFilter(filters, () => web)).map((x) => x.name);

    it('matches a network by name or id prefix', () => {
      expect(ps([{ key: 'network', values: ['app'] }])).toEqual(['web']);
      expect(ps([{ key: 'network', values: ['abc'] }])).toEqual(['web']);
      expect(ps([{ key: 'network', values: ['ap'] }])).toEqual([]);
      expect(ps([{ key: 'network', values: ['app', 'bridge'] }])).toEqual(['web', 'db']);
    });

    it('matches published and exposed ports, with ranges and protocols (tcp by default)', () => {
      expect(ps([{ key: 'publish', values: ['8080'] }])).toEqual(['web']);
      expect(ps([{ key: 'publish', values: ['8080/udp'] }])).toEqual([]);
      expect(ps([{ key: 'publish', values: ['8000-8100/tcp'] }])).toEqual(['web']);
      expect(ps([{ key: 'publish', values: ['80'] }])).toEqual([]);
      expect(ps([{ key: 'expose', values: ['80'] }])).toEqual(['web']);
      expect(ps([{ key: 'expose', values: ['53/udp'] }])).toEqual(['web']);
      expect(ps([{ key: 'expose', values: ['50-60'] }])).toEqual([]);
      // either set matches
      expect(ps([{ key: 'publish', values: ['1'] }, { key: 'expose', values: ['80'] }])).toEqual(['web']);
    });

    it("refuses bad ports with dockerd's texts (dockerd answers 500; the client's: 400)", () => {
      const err = (v: string, key = 'publish') => {
        try {
          containerFilter([{ key, values: [v] }], () => web);
        } catch (e) {
          return `${(e as { code: string }).code} ${(e as Error).message}`;
        }
        return 'ok';
      };
      expect(err('1:2')).toBe("INVALID_ARGUMENT filter for 'publish' should not contain ':': 1:2");
      expect(err('abc', 'expose')).toBe('INVALID_ARGUMENT error while looking up for expose abc: strconv.ParseUint: parsing "abc": invalid syntax');
      expect(err('70000')).toBe('INVALID_ARGUMENT error while looking up for publish 70000: strconv.ParseUint: parsing "70000": value out of range');
      expect(err('90-80')).toBe('INVALID_ARGUMENT error while looking up for publish 90-80: Invalid range specified for the Port: 90-80');
      expect(err('')).toBe('INVALID_ARGUMENT error while looking up for publish : Empty string specified for ports.');
    });
  });
});
