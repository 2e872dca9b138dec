import { InvalidArgumentError } from '@drydock/errors';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, normalizeCapabilities, tweakCapabilities, validateCapabilities } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

describe('capabilities', () => {
  it('normalises case and the CAP_ prefix, keeping ALL', () => {
    expect(normalizeCapabilities(['net_admin', 'CAP_sys_time', 'all'])).toStrictEqual(['CAP_NET_ADMIN', 'CAP_SYS_TIME', 'ALL']);
  });

  it("wraps create-time errors like Docker's validateHostConfig", () => {
    expect(() => validateCapabilities(['NET_ADMIN'], ['foo'])).toThrow(InvalidArgumentError);
    expect(() => validateCapabilities(['NET_ADMIN'], ['foo'])).toThrow(exactly('invalid CapDrop: unknown capability: "CAP_FOO"'));
    expect(() => validateCapabilities(['CAP_PERFMON'])).toThrow(exactly('invalid CapAdd: unknown capability: "CAP_PERFMON"'));
    expect(() => validateCapabilities(['chown'], ['ALL'])).not.toThrow();
  });

  it('keeps duplicates when adding a default capability, as Docker does', () => {
    expect(tweakCapabilities(DEFAULT_CAPABILITIES, ['chown']).filter((c) => c === 'CAP_CHOWN')).toHaveLength(2);
  });

  it('privileged ignores add/drop', () => {
    expect(tweakCapabilities(DEFAULT_CAPABILITIES, [], ['ALL'], true)).toStrictEqual([...ALL_CAPABILITIES]);
    expect(ALL_CAPABILITIES.at(-1)).toBe('CAP_AUDIT_READ');
  });
});
