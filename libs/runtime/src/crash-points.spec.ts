import { CrashPoints } from './crash-points';

describe('CrashPoints', () => {
  it('does nothing at a point that is not armed', () => {
    const die = jest.fn();
    const c = new CrashPoints<'a' | 'b'>(['a'], die);
    expect(() => c.reach('b')).not.toThrow();
    expect(die).not.toHaveBeenCalled();
    expect(new CrashPoints().enabled).toBe(false);
  });

  it('dies at an armed point and never lets the step after it run', () => {
    const calls: string[] = [];
    const c = new CrashPoints<'a' | 'b'>(['a', 'b'], (p) => calls.push(`die ${p}`));
    expect(() => c.reach('b')).toThrow('crash point b reached');
    expect(calls).toEqual(['die b']);
    expect(c.enabled).toBe(true);
  });
});
