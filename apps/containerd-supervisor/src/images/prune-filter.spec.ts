import { pruneFilter, type ImageSummary } from './image-store';

const row = (repoTags: string[], created = '2024-01-01T00:00:00Z', labels: Record<string, string> = {}): ImageSummary => ({ id: 'sha256:x', repoTags, repoDigests: [], created, size: 1, labels });

describe('pruneFilter', () => {
  it('takes only untagged images by default, every image with dangling=false', () => {
    expect(pruneFilter([])(row([]))).toBe(true);
    expect(pruneFilter([])(row(['a:1']))).toBe(false);
    expect(pruneFilter([{ key: 'dangling', values: ['false'] }])(row(['a:1']))).toBe(true);
  });

  it('narrows by label, label! and until', () => {
    const all = { key: 'dangling', values: ['false'] };
    expect(pruneFilter([all, { key: 'label', values: ['k=v'] }])(row(['a:1'], undefined, { k: 'v' }))).toBe(true);
    expect(pruneFilter([all, { key: 'label!', values: ['k'] }])(row(['a:1'], undefined, { k: 'v' }))).toBe(false);
    expect(pruneFilter([all, { key: 'until', values: ['2023-01-01T00:00:00Z'] }])(row(['a:1']))).toBe(false);
    expect(pruneFilter([all, { key: 'until', values: ['1h'] }])(row(['a:1']))).toBe(true);
  });

  it('refuses unknown filters with Docker text', () => {
    expect(() => pruneFilter([{ key: 'bogus', values: ['1'] }])).toThrow("Invalid filter 'bogus'");
  });
});
