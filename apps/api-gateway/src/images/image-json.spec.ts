import { rfc3339Nano, toDeleteItems, toHistory, toImageSummary } from './image-json';

describe('image JSON', () => {
  it('shows untagged images as <none>:<none> like dockerd 20.10', () => {
    const s = toImageSummary({ id: 'sha256:1', repoTags: [], repoDigests: [], created: { seconds: '1700000000', nanos: 5 }, size: '42', labels: {} });
    expect(s).toMatchObject({ Id: 'sha256:1', RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'], Created: 1700000000, Size: 42, VirtualSize: 42, SharedSize: -1, Containers: -1, ParentId: '', Labels: null });
  });
  it('leaves the missing list null for tagged images', () => {
    const s = toImageSummary({ id: 'sha256:1', repoTags: ['a:1'], repoDigests: [], size: '1', labels: { k: 'v' } });
    expect(s).toMatchObject({ RepoTags: ['a:1'], RepoDigests: null, Labels: { k: 'v' } });
  });
  it('formats times as Go RFC3339Nano', () => {
    expect(rfc3339Nano({ seconds: '1700000000', nanos: 120000000 })).toBe('2023-11-14T22:13:20.12Z');
    expect(rfc3339Nano({ seconds: '1700000000', nanos: 0 })).toBe('2023-11-14T22:13:20Z');
    expect(rfc3339Nano(undefined)).toBe('0001-01-01T00:00:00Z');
  });
  it('maps history and removal results', () => {
    expect(toHistory([{ id: 'sha256:1', created: '5', createdBy: '', tags: [], size: '3', comment: 'c' }])).toEqual([{ Id: 'sha256:1', Created: 5, CreatedBy: '', Tags: null, Size: 3, Comment: 'c' }]);
    expect(toDeleteItems(['a:1'], ['sha256:1'])).toEqual([{ Untagged: 'a:1' }, { Deleted: 'sha256:1' }]);
  });
});
