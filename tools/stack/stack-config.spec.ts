import { clientAddress, loadStackConfig, serviceEnv } from './stack-config';

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
      supervisorAddress: '127.0.0.1:7701',
      schedulerListen: '127.0.0.1:7702',
      schedulerAddress: '127.0.0.1:7702',
      gatewaySocket: '/run/drydock/docker.sock',
    });
  });

  it('takes the gateway socket from DRYDOCK_GATEWAY_SOCKET and refuses relative or over-long paths', () => {
    expect(loadStackConfig({ DRYDOCK_GATEWAY_SOCKET: '/tmp/gw/docker.sock' }).gatewaySocket).toBe('/tmp/gw/docker.sock');
    expect(() => loadStackConfig({ DRYDOCK_GATEWAY_SOCKET: 'docker.sock' })).toThrow(/DRYDOCK_GATEWAY_SOCKET[\s\S]*absolute/);
    expect(() => loadStackConfig({ DRYDOCK_GATEWAY_SOCKET: '/tmp/' + 'x'.repeat(110) })).toThrow(/DRYDOCK_GATEWAY_SOCKET[\s\S]*108 bytes/);
  });

  it('points clients at loopback when the supervisor listens on every interface', () => {
    expect(loadStackConfig({ DRYDOCK_SUPERVISOR_LISTEN: '0.0.0.0:7800' }).supervisorAddress).toBe('127.0.0.1:7800');
    expect(loadStackConfig({ DRYDOCK_SUPERVISOR_LISTEN: '10.0.0.5:7800' }).supervisorAddress).toBe('10.0.0.5:7800');
    expect(clientAddress('[::]:7701')).toBe('127.0.0.1:7701');
  });

  it('reports every bad variable at once', () => {
    expect(() => loadStackConfig({ DRYDOCK_STATE_DIR: 'relative', DRYDOCK_NATS_PORT: '70000', DRYDOCK_SUPERVISOR_LISTEN: 'nope' })).toThrow(
      /DRYDOCK_STATE_DIR[\s\S]*DRYDOCK_NATS_PORT[\s\S]*DRYDOCK_SUPERVISOR_LISTEN/,
    );
  });

  it('refuses a state dir whose socket path would not fit a unix socket', () => {
    expect(() => loadStackConfig({ DRYDOCK_STATE_DIR: '/tmp/' + 'x'.repeat(100) })).toThrow(/too long for a unix socket/);
  });

  it('points the services at the registry-proxy through loopback when it listens on every interface', () => {
    expect(serviceEnv(loadStackConfig({ DRYDOCK_REGISTRY_PROXY_LISTEN: '0.0.0.0:5200' }), '/x', '/y').DRYDOCK_REGISTRY_PROXY_URL).toBe('http://127.0.0.1:5200');
  });

  it('hands the services URLs built from the ports, the supervisor address and the gateway socket', () => {
    const env = serviceEnv(
      loadStackConfig({ DRYDOCK_STATE_DIR: '/tmp/s', DRYDOCK_NATS_PORT: '14222', DRYDOCK_REDIS_PORT: '16379', DRYDOCK_SUPERVISOR_LISTEN: '0.0.0.0:7702', DRYDOCK_SCHEDULER_LISTEN: '0.0.0.0:7703', DRYDOCK_GATEWAY_SOCKET: '/tmp/s/d.sock' }),
      '/x/logger',
      '/x/drydock-dns',
    );
    expect(env).toEqual({
      DRYDOCK_STATE_DIR: '/tmp/s',
      DRYDOCK_CONTAINERD_ADDRESS: '/tmp/s/containerd/c.sock',
      DRYDOCK_NATS_URL: 'nats://127.0.0.1:14222',
      DRYDOCK_REDIS_URL: 'redis://127.0.0.1:16379',
      DRYDOCK_SUPERVISOR_LISTEN: '0.0.0.0:7702',
      DRYDOCK_SUPERVISOR_ADDRESS: '127.0.0.1:7702',
      DRYDOCK_SCHEDULER_LISTEN: '0.0.0.0:7703',
      DRYDOCK_SCHEDULER_ADDRESS: '127.0.0.1:7703',
      DRYDOCK_GATEWAY_SOCKET: '/tmp/s/d.sock',
      DRYDOCK_REGISTRY_PROXY_URL: 'http://127.0.0.1:5100',
      DRYDOCK_LOGGER_BINARY: '/x/logger',
      DRYDOCK_DNS_BINARY: '/x/drydock-dns',
    });
  });
});
