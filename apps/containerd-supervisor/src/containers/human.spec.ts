import { humanDuration } from './human';
import { normalizeName, newContainerId, randomName } from './names';

describe('humanDuration', () => {
  it.each([
    [500, 'Less than a second'],
    [1000, '1 second'],
    [59000, '59 seconds'],
    [60000, 'About a minute'],
    [150000, '2 minutes'],
    [3600000, 'About an hour'],
    [3 * 3600000, '3 hours'],
    [30 * 3600000, '30 hours'], [3 * 86400000, '3 days'],
    [10 * 86400000, '10 days'],
  ])('%d ms -> %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('names', () => {
  it('accepts Docker names and strips the slash', () => {
    expect(normalizeName('/web-1')).toBe('web-1');
    expect(normalizeName('a.b_c')).toBe('a.b_c');
  });
  it('rejects bad names with Docker text', () => {
    expect(() => normalizeName('-x')).toThrow('Invalid container name (-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
    expect(() => normalizeName('a')).toThrow(/Invalid container name/);
  });
  it('makes 64-hex ids and free random names', () => {
    expect(newContainerId()).toMatch(/^[0-9a-f]{64}$/);
    const n = randomName((x) => x.startsWith('a'));
    expect(n).toMatch(/^[b-z][a-z]+_[a-z]+\d?$/);
  });
});
