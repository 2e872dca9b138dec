import { InvalidArgumentError } from '@drydock/errors';
import { assertSignalForPlatform, parseSignal, signalName, validSignalForPlatform } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

describe('parseSignal', () => {
  it('parses names with or without SIG, in any case', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGKILL')).toBe(9);
    expect(parseSignal('sigterm')).toBe(15);
    expect(parseSignal('Hup')).toBe(1);
    expect(parseSignal('SIGUSR1')).toBe(10);
    expect(parseSignal('WINCH')).toBe(28);
    expect(parseSignal('SIGCHLD')).toBe(17);
  });

  it('parses real-time signals', () => {
    expect(parseSignal('RTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN+3')).toBe(37);
    expect(parseSignal('rtmax-1')).toBe(63);
    expect(parseSignal('RTMAX')).toBe(64);
  });

  it('parses numbers like Go Atoi (any non-zero integer)', () => {
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('+15')).toBe(15);
    expect(parseSignal('99')).toBe(99);
  });

  it.each(['0', 'FOO', 'SIGFOO', '', 'RTMIN+16', '9x', 'SIG'])('rejects %j', (raw) => {
    expect(() => parseSignal(raw)).toThrow(InvalidArgumentError);
    expect(() => parseSignal(raw)).toThrow(new Error(`Invalid signal: ${raw}`));
  });

  it('does not treat Object.prototype names as signals', () => {
    expect(() => parseSignal('constructor')).toThrow(exactly('Invalid signal: constructor'));
  });

  it('checks numbers against the platform table like the kill path', () => {
    expect(validSignalForPlatform(9)).toBe(true);
    expect(validSignalForPlatform(64)).toBe(true);
    expect(validSignalForPlatform(65)).toBe(false);
    expect(() => assertSignalForPlatform(99)).toThrow(exactly('The linux daemon does not support signal 99'));
  });

  it('names numbers', () => {
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(6)).toBe('SIGABRT');
    expect(signalName(40)).toBe('SIGRTMIN+6');
    expect(signalName(99)).toBeUndefined();
  });
});
