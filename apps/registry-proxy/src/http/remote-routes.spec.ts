import { parseAccept, parseOpenRange } from './remote-routes';

describe('remote route parsing', () => {
  it('forwards the caller’s Accept types, all manifest types when there is none', () => {
    expect(parseAccept('application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json;q=0.5')).toEqual([
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
    ]);
    expect(parseAccept(['application/a', 'application/a, application/b'])).toEqual(['application/a', 'application/b']);
    expect(parseAccept(undefined)).toHaveLength(4);
    expect(parseAccept('*/*')).toHaveLength(4);
  });

  it('reads the ranges pullers send and serves anything else whole', () => {
    expect(parseOpenRange('bytes=100-')).toEqual({ start: 100, end: undefined });
    expect(parseOpenRange('bytes=0-511')).toEqual({ start: 0, end: 511 });
    expect(parseOpenRange('bytes=-500')).toBeUndefined();
    expect(parseOpenRange('bytes=0-1,5-6')).toBeUndefined();
    expect(parseOpenRange(undefined)).toBeUndefined();
  });
});
