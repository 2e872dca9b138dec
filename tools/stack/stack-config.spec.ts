import { loadStackConfig, serviceEnv } from './stack-config';

describe('loadStackConfig', () => {
  it('defaults to /var/lib/drydock, 4222, 6379 and a containerd socket in the state dir', () => {
    const c = loadStackConfig({});
    expect(c).toMatchObject({
      stateDir: '/var/lib/drydock',
      containerdAddress: '/var/lib/drydock/containerd/c.sock',
      natsDir: '/var/lib/drydock/nats',
      natsPort: 4222,
      redisDir: '/var/lib/drydock/redis',
      redisPort: 6379,
      supervisorListen: '127.0.0.1:7701',
    });
  });

  it('reports every bad variable at once', () => {
    expect(() => loadStackConfig({ DRYDOCK_STATE_DIR: 'relative', DRYDOCK_NATS_PORT: '70000', DRYDOCK_SUPERVISOR_LISTEN: 'nope' })).toThrow(
      /DRYDOCK_STATE_DIR[\s\S]*DRYDOCK_NATS_PORT[\s\S]*DRYDOCK_SUPERVISOR_LISTEN/,
    );
  });

  it('refuses a state dir whose socket path would not fit a unix socket', () => {
    expect(() => loadStackConfig({ DRYDOCK_STATE_DIR: '/tmp/' + 'x'.repeat(100) })).toThrow(/too long for a unix socket/);
  });

  it('hands the services URLs built from the ports', () => {
    const env = serviceEnv(loadStackConfig({ DRYDOCK_STATE_DIR: '/tmp/s', DRYDOCK_NATS_PORT: '14222', DRYDOCK_REDIS_PORT: '16379' }), '/x/logger');
    expect(env).toEqual({
      DRYDOCK_STATE_DIR: '/tmp/s',
      DRYDOCK_CONTAINERD_ADDRESS: '/tmp/s/containerd/c.sock',
      DRYDOCK_NATS_URL: 'nats://127.0.0.1:14222',
      DRYDOCK_REDIS_URL: 'redis://127.0.0.1:16379',
      DRYDOCK_SUPERVISOR_LISTEN: '127.0.0.1:7701',
      DRYDOCK_LOGGER_BINARY: '/x/logger',
    });
  });
});
