import { nextRestartDelayMs, restartsOnBoot, shouldRestart, validateRestartPolicy } from './restart-policy';

describe('restart policy', () => {
  it('follows dockerd rules', () => {
    expect(shouldRestart({ name: 'no' }, 1, 0, false)).toBe(false);
    expect(shouldRestart({ name: 'always' }, 0, 5, false)).toBe(true);
    expect(shouldRestart({ name: 'always' }, 0, 5, true)).toBe(false);
    expect(shouldRestart({ name: 'on-failure' }, 0, 0, false)).toBe(false);
    expect(shouldRestart({ name: 'on-failure', maximumRetryCount: 2 }, 1, 1, false)).toBe(true);
    expect(shouldRestart({ name: 'on-failure', maximumRetryCount: 2 }, 1, 2, false)).toBe(false);
    expect(restartsOnBoot({ name: 'unless-stopped' }, true)).toBe(false);
    expect(restartsOnBoot({ name: 'always' }, false)).toBe(true);
  });
  it('backs off and resets', () => {
    expect(nextRestartDelayMs(0, 0)).toBe(100);
    expect(nextRestartDelayMs(100, 50)).toBe(200);
    expect(nextRestartDelayMs(40000, 50)).toBe(60000);
    expect(nextRestartDelayMs(40000, 11000)).toBe(100);
  });
  it('validates with dockerd texts', () => {
    expect(() => validateRestartPolicy({ name: 'sometimes' }, false)).toThrow("invalid restart policy 'sometimes'");
    expect(() => validateRestartPolicy({ name: 'always', maximumRetryCount: 3 }, false)).toThrow("maximum retry count cannot be used with restart policy 'always'");
    expect(() => validateRestartPolicy({ name: 'always' }, true)).toThrow("can't create 'AutoRemove' container with restart policy");
    expect(() => validateRestartPolicy({ name: 'on-failure', maximumRetryCount: 3 }, false)).not.toThrow();
  });
});
