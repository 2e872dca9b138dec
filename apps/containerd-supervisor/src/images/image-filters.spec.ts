import { normalizeTagged, parseReference } from '@drydock/oci-spec';
import { NotFoundError } from '@drydock/errors';
import { familiarMatch, imageFilter, matchLabel, pathMatch, type FilterableImage } from './image-filters';

const img = (over: Partial<FilterableImage>): FilterableImage => ({ id: 'sha256:1', references: [], labels: {}, createdMs: 1000, ...over });
const lookup = async (ref: string) => {
  if (ref === 'old') return 500;
  if (ref === 'new') return 1500;
  throw new NotFoundError(`No such image: ${ref}`);
};

describe('pathMatch', () => {
  it('behaves like Go path.Match', () => {
    expect(pathMatch('busy*', 'busybox:latest')).toBe(true);
    expect(pathMatch('*', 'myorg/app')).toBe(false);
    expect(pathMatch('*/*', 'myorg/app')).toBe(true);
    expect(pathMatch('b?sybox', 'busybox')).toBe(true);
    expect(pathMatch('[a-c]usybox', 'busybox')).toBe(true);
    expect(pathMatch('[^a-c]usybox', 'busybox')).toBe(false);
    expect(pathMatch('busybox.1', 'busyboxx1')).toBe(false);
    expect(() => pathMatch('[abc', 'x')).toThrow('syntax error in pattern');
  });
});

describe('familiarMatch', () => {
  it('matches the familiar string or the familiar name', () => {
    const r = normalizeTagged('busybox:1.36');
    expect(familiarMatch('busybox', r)).toBe(true);
    expect(familiarMatch('busybox:1.*', r)).toBe(true);
    expect(familiarMatch('busybox:latest', r)).toBe(false);
    expect(familiarMatch('docker.io/library/busybox', r)).toBe(false);
    expect(familiarMatch('quay.io/*', normalizeTagged('quay.io/x:1'))).toBe(true);
    expect(familiarMatch('*', normalizeTagged('quay.io/x:1'))).toBe(false);
    expect(familiarMatch('quay.io/x', normalizeTagged('quay.io/x:1'))).toBe(true);
  });
});

describe('matchLabel', () => {
  it('checks presence or value', () => {
    expect(matchLabel({ a: '1' }, 'a')).toBe(true);
    expect(matchLabel({ a: '1' }, 'a=1')).toBe(true);
    expect(matchLabel({ a: '1' }, 'a=2')).toBe(false);
    expect(matchLabel({ a: '1=2' }, 'a=1=2')).toBe(true);
    expect(matchLabel({}, 'toString')).toBe(false);
  });
});

describe('imageFilter', () => {
  const tagged = img({ references: [normalizeTagged('busybox'), normalizeTagged('mine/app:2')], labels: { tier: 'web' } });
  const untagged = img({ id: 'sha256:2' });
  const digestOnly = img({ id: 'sha256:3', references: [parseReference('busybox@sha256:' + 'a'.repeat(64))] });

  it('rejects unknown keys and bad dangling values with dockerd texts', async () => {
    await expect(imageFilter([{ key: 'nope', values: ['x'] }], lookup)).rejects.toThrow("Invalid filter 'nope'");
    await expect(imageFilter([{ key: 'dangling', values: ['maybe'] }], lookup)).rejects.toThrow("Invalid filter 'dangling=[maybe]'");
  });

  it('dangling=true keeps untagged images (digest-only ones too)', async () => {
    const f = await imageFilter([{ key: 'dangling', values: ['true'] }], lookup);
    expect([tagged, untagged, digestOnly].map((i) => f.matches(i))).toEqual([false, true, true]);
  });

  it('dangling=false keeps tagged images', async () => {
    const f = await imageFilter([{ key: 'dangling', values: ['false'] }], lookup);
    expect([tagged, untagged].map((i) => f.matches(i))).toEqual([true, false]);
  });

  it('reference filters the image and the references shown', async () => {
    const f = await imageFilter([{ key: 'reference', values: ['mine/*'] }], lookup);
    expect(f.matches(tagged)).toBe(true);
    expect(f.visibleReferences(tagged).map((r) => r.toString())).toEqual(['docker.io/mine/app:2']);
    expect(f.matches(untagged)).toBe(false);
    const g = await imageFilter([{ key: 'reference', values: ['nothing*'] }], lookup);
    expect(g.matches(tagged)).toBe(false);
  });

  it('label requires every value', async () => {
    expect((await imageFilter([{ key: 'label', values: ['tier'] }], lookup)).matches(tagged)).toBe(true);
    expect((await imageFilter([{ key: 'label', values: ['tier=web', 'x'] }], lookup)).matches(tagged)).toBe(false);
  });

  it('before/since compare creation times and surface lookup errors', async () => {
    expect((await imageFilter([{ key: 'before', values: ['new'] }], lookup)).matches(tagged)).toBe(true);
    expect((await imageFilter([{ key: 'since', values: ['new'] }], lookup)).matches(tagged)).toBe(false);
    expect((await imageFilter([{ key: 'since', values: ['old'] }], lookup)).matches(tagged)).toBe(true);
    await expect(imageFilter([{ key: 'since', values: ['ghost'] }], lookup)).rejects.toThrow('No such image: ghost');
  });
});
