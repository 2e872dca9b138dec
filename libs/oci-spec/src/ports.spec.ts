import { InvalidArgumentError } from '@drydock/errors';
import { parseExposedPorts, parsePortSpec } from './index';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('port specs', () => {
  it('parses container ports, protocols and ranges', () => {
    expect(parseExposedPorts(['80', '53/UDP', '8000-8002/tcp', '80/tcp'])).toStrictEqual([
      '80/tcp',
      '53/udp',
      '8000/tcp',
      '8001/tcp',
      '8002/tcp',
    ]);
  });

  it('parses host bindings', () => {
    expect(parsePortSpec('127.0.0.1:8080:80')).toStrictEqual([{ port: '80/tcp', hostIp: '127.0.0.1', hostPort: '8080' }]);
    expect(parsePortSpec('[::1]:8080:80/udp')).toStrictEqual([{ port: '80/udp', hostIp: '::1', hostPort: '8080' }]);
    expect(parsePortSpec('8080-8081:80-81')).toStrictEqual([
      { port: '80/tcp', hostIp: '', hostPort: '8080' },
      { port: '81/tcp', hostIp: '', hostPort: '8081' },
    ]);
    expect(parsePortSpec('8080-8090:80')).toStrictEqual([{ port: '80/tcp', hostIp: '', hostPort: '8080-8090' }]);
  });

  it.each([
    ['abc', 'Invalid containerPort: abc'],
    ['70000', 'Invalid containerPort: 70000'],
    ['90-80', 'Invalid containerPort: 90-80'],
    ['80/icmp', 'Invalid proto: icmp'],
    ['x:80', 'Invalid hostPort: x'],
    ['1.2.3.999:80:80', 'Invalid ip address: 1.2.3.999'],
    ['80-81:90-95', 'Invalid ranges specified for container and host Ports: 90-95 and 80-81'],
    ['1:', 'No port specified: 1:<empty>'],
  ])('rejects %s', (spec, msg) => {
    expect(message(() => parsePortSpec(spec))).toBe(msg);
  });
});
