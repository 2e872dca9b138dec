import { FailedPreconditionError, InvalidArgumentError } from '@drydock/errors';
import { applyFilters, DEFAULT_FILTERS, findContainer } from './filters';
import { selectNodes } from './select';
import { SpreadStrategy } from './strategies';
import { node, spec } from './testing';

const spread = new SpreadStrategy({ overcommitPercent: 5 });
function thrown(f: () => unknown): [unknown, string] {
  try {
    f();
  } catch (err) {
    return [(err as Error).constructor, (err as Error).message];
  }
  throw new Error('did not throw');
}
const ids = (ns: { id: string }[]) => ns.map((n) => n.id);

describe('filters', () => {
  // Swarm's TestApplyFilters: node-1 is unhealthy and holds image-0:tag3; a soft affinity to it falls back
  const nodes = () => [
    node('node-0-id', { name: 'node-0-name', labels: { region: 'us-east', storagedriver: 'overlay2' }, containers: [{ id: 'container-n0-0-id', name: 'container-n0-0-name', memoryBytes: 0, nanoCpus: 0, ports: [], image: 'image-0:tag1' }] }),
    node('node-1-id', { name: 'node-1-name', healthy: false, images: ['image-1:tag1', 'image-0:tag3'] }),
    node('node-2-id', { name: 'node-2-name', labels: { region: 'eu-west' }, containers: [{ id: 'c2', name: 'web', memoryBytes: 0, nanoCpus: 0, ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }], labels: { tier: 'front' } }] }),
  ];

  it('enforces soft expressions in the first pass only', () => {
    const s = spec({ affinities: ['image==~image-0:tag3'] });
    expect(() => applyFilters(DEFAULT_FILTERS, s, nodes(), true)).toThrow('Unable to find a node that satisfies the following conditions');
    expect(ids(applyFilters(DEFAULT_FILTERS, s, nodes(), false))).toEqual(['node-0-id', 'node-2-id']);
    expect(ids(selectNodes(s, nodes(), spread))).toContain('node-0-id');
  });

  it('constraints on node id or name, labels, globs, regexps and negation', () => {
    const pick = (...constraints: string[]) => ids(applyFilters(DEFAULT_FILTERS, spec({ constraints }), nodes(), true));
    expect(pick('node==node-2-name')).toEqual(['node-2-id']);
    expect(pick('node==node-0-id')).toEqual(['node-0-id']);
    expect(pick('region==us-*')).toEqual(['node-0-id']);
    expect(pick('region!=us-*')).toEqual(['node-2-id']);
    expect(pick('region==/^(eu|us)-/', 'storagedriver==overlay2')).toEqual(['node-0-id']);
  });

  it('affinity to a container by name or id, to an image, to a container label', () => {
    const pick = (...affinities: string[]) => ids(applyFilters(DEFAULT_FILTERS, spec({ affinities }), nodes(), true));
    expect(pick('container==web')).toEqual(['node-2-id']);
    expect(pick('container==container-n0-0-id')).toEqual(['node-0-id']);
    expect(pick('container!=web')).toEqual(['node-0-id']);
    expect(pick('image==image-0')).toEqual(['node-0-id']);
    expect(pick('tier==front')).toEqual(['node-2-id']);
  });

  it('a published host port already used excludes the node', () => {
    const pick = (hostIp: string, hostPort: string) => ids(applyFilters(DEFAULT_FILTERS, spec({ ports: [{ containerPort: '80/tcp', hostIp, hostPort }] }), nodes(), true));
    expect(pick('', '8080')).toEqual(['node-0-id']);
    expect(pick('10.0.0.1', '8080')).toEqual(['node-0-id']);
    expect(pick('', '8081')).toEqual(['node-0-id', 'node-2-id']);
    expect(pick('', '')).toEqual(['node-0-id', 'node-2-id']);
  });

  it('dependencies must be on the node', () => {
    const pick = (over: Parameters<typeof spec>[0]) => ids(applyFilters(DEFAULT_FILTERS, spec(over), nodes(), true));
    expect(pick({ links: ['web:w'] })).toEqual(['node-2-id']);
    expect(pick({ volumesFrom: ['container-n0-0-name:ro'] })).toEqual(['node-0-id']);
    expect(pick({ networkMode: 'container:web' })).toEqual(['node-2-id']);
    expect(() => pick({ links: ['web'], volumesFrom: ['container-n0-0-name'] })).toThrow(
      'Unable to find a node that satisfies the following conditions \n[available container slots]\n[--volumes-from=container-n0-0-name --link=web]',
    );
  });

  it('containerslots caps the containers of a labelled node', () => {
    const ns = [node('a', { labels: { containerslots: '1' }, containerCount: 1 }), node('b', { labels: { containerslots: 'x' } })];
    expect(ids(applyFilters(DEFAULT_FILTERS, spec(), ns, true))).toEqual(['b']);
  });

  it("names every condition up to the failing filter, in Swarm's shape", () => {
    const s = spec({ ports: [{ containerPort: '80/tcp', hostIp: '', hostPort: '80' }], affinities: ['container==db'], constraints: ['region==mars'] });
    expect(thrown(() => selectNodes(s, nodes(), spread))).toEqual([
      FailedPreconditionError,
      'Unable to find a node that satisfies the following conditions \n[port 80 (Bridge mode)]\n[available container slots]\n[container==db (soft=false)]',
    ]);
    const c = spec({ constraints: ['region==mars'] });
    expect(() => selectNodes(c, nodes(), spread)).toThrow('Unable to find a node that satisfies the following conditions \n[available container slots]\n[region==mars]');
  });

  it('a bad expression is bad input, with the filter named', () => {
    expect(thrown(() => selectNodes(spec({ constraints: ['1node==a'] }), nodes(), spread))).toEqual([
      InvalidArgumentError,
      "Unable to find a node that satisfies the following conditions \n[available container slots]\nerror from constraint filter: Key '1node' is invalid",
    ]);
  });

  it('no healthy node, and no room', () => {
    expect(() => selectNodes(spec(), [node('a', { healthy: false })], spread)).toThrow('No healthy node available in the cluster');
    expect(() => selectNodes(spec({ memoryBytes: 1 }), [node('a')], spread)).toThrow('no resources available to schedule container');
  });

  it('finds containers as Swarm did: id, short id, name, unique prefix', () => {
    const cs = [
      { id: 'abcdef0123456789', name: 'one', memoryBytes: 0, nanoCpus: 0, ports: [] },
      { id: 'abd0000000000000', name: 'two', memoryBytes: 0, nanoCpus: 0, ports: [] },
    ];
    expect(findContainer(cs, 'abcdef012345')?.name).toBe('one');
    expect(findContainer(cs, '/two')?.name).toBe('two');
    expect(findContainer(cs, 'abc')?.name).toBe('one');
    expect(findContainer(cs, 'ab')).toBeUndefined();
  });
});
