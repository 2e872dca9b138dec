import { linkEnv } from './link-env';

describe('linkEnv (moby links.go ToEnv)', () => {
  it('one port: the default port, the port variables, the name and the env without HOME and PATH', () => {
    expect(linkEnv('/web/my-db', '172.17.0.2', ['PATH=/bin', 'HOME=/root', 'PASSWORD=x=y', 'BROKEN'], ['6379/tcp'])).toEqual([
      'MY_DB_PORT=tcp://172.17.0.2:6379',
      'MY_DB_PORT_6379_TCP=tcp://172.17.0.2:6379',
      'MY_DB_PORT_6379_TCP_ADDR=172.17.0.2',
      'MY_DB_PORT_6379_TCP_PORT=6379',
      'MY_DB_PORT_6379_TCP_PROTO=tcp',
      'MY_DB_NAME=/web/my-db',
      'MY_DB_ENV_PASSWORD=x=y',
    ]);
  });

  it('the lowest port is the default, tcp before udp of the same number', () => {
    const env = linkEnv('/a/db', '10.0.0.5', [], ['53/udp', '8080/tcp', '53/tcp']);
    expect(env[0]).toBe('DB_PORT=tcp://10.0.0.5:53');
    expect(env.filter((e) => /^DB_PORT_\d+_[A-Z]+=/.test(e))).toEqual(['DB_PORT_53_TCP=tcp://10.0.0.5:53', 'DB_PORT_53_UDP=udp://10.0.0.5:53', 'DB_PORT_8080_TCP=tcp://10.0.0.5:8080']);
  });

  it('three or more contiguous ports get the range variables', () => {
    const env = linkEnv('/a/x', '10.0.0.5', [], ['8000/tcp', '8001/tcp', '8002/tcp']);
    expect(env.slice(1, 7)).toEqual([
      'X_PORT_8000_TCP_START=tcp://10.0.0.5:8000',
      'X_PORT_8000_TCP_ADDR=10.0.0.5',
      'X_PORT_8000_TCP_PROTO=tcp',
      'X_PORT_8000_TCP_PORT_START=8000',
      'X_PORT_8000_TCP_END=tcp://10.0.0.5:8002',
      'X_PORT_8000_TCP_PORT_END=8002',
    ]);
  });

  it('no ports: the name only', () => {
    expect(linkEnv('/me/other', '10.0.0.5', [], [])).toEqual(['OTHER_NAME=/me/other']);
  });
});
