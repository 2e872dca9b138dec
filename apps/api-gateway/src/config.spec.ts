import { loadGatewayConfig } from './config';

describe('gateway config', () => {
  it('is a single node unless DRYDOCK_CLUSTER is set, and validates the cluster settings', () => {
    expect(loadGatewayConfig({}).cluster).toBeUndefined();
    expect(loadGatewayConfig({ DRYDOCK_CLUSTER: '1', DRYDOCK_SCHEDULER_ADDRESS: '10.0.0.1:7702' }).cluster).toEqual({
      schedulerAddress: '10.0.0.1:7702',
      schedulerRetryMs: 30000,
      nodeDownAfterMs: 8000,
      strategy: 'spread',
      kvReplicas: 1,
    });
    expect(() => loadGatewayConfig({ DRYDOCK_CLUSTER: 'maybe' })).toThrow(/DRYDOCK_CLUSTER/);
    expect(() => loadGatewayConfig({ DRYDOCK_CLUSTER: '1', DRYDOCK_SCHEDULER_ADDRESS: 'scheduler' })).toThrow(/DRYDOCK_SCHEDULER_ADDRESS/);
  });

  it('listens on the unix socket only by default', () => {
    const c = loadGatewayConfig({});
    expect(c).toMatchObject({ socketPath: '/run/drydock/docker.sock', socketMode: 0o660, tcp: undefined, tls: undefined });
  });

  it('refuses plain TCP unless explicitly insecure, and then only on loopback', () => {
    expect(() => loadGatewayConfig({ DRYDOCK_GATEWAY_TCP: '0.0.0.0:2375' })).toThrow(/DRYDOCK_GATEWAY_INSECURE_TCP/);
    expect(() => loadGatewayConfig({ DRYDOCK_GATEWAY_TCP: '0.0.0.0:2375', DRYDOCK_GATEWAY_INSECURE_TCP: 'true' })).toThrow(/loopback only/);
    expect(loadGatewayConfig({ DRYDOCK_GATEWAY_TCP: '127.0.0.1:2375', DRYDOCK_GATEWAY_INSECURE_TCP: 'true' }).tcp).toBe('127.0.0.1:2375');
  });

  it('needs the whole TLS triple (client certificates are always verified)', () => {
    expect(() => loadGatewayConfig({ DRYDOCK_GATEWAY_TCP: '0.0.0.0:2376', DRYDOCK_GATEWAY_TLS_CERT: '/c.pem' })).toThrow(/needs DRYDOCK_GATEWAY_TLS_CERT, _KEY and _CA/);
    const c = loadGatewayConfig({ DRYDOCK_GATEWAY_TCP: '0.0.0.0:2376', DRYDOCK_GATEWAY_TLS_CERT: '/c', DRYDOCK_GATEWAY_TLS_KEY: '/k', DRYDOCK_GATEWAY_TLS_CA: '/ca' });
    expect(c.tls).toEqual({ cert: '/c', key: '/k', ca: '/ca' });
  });

  it('reaches the registry-proxy on loopback port 5100 unless DRYDOCK_REGISTRY_PROXY_URL says otherwise', () => {
    expect(loadGatewayConfig({}).registryProxyUrl).toBe('http://127.0.0.1:5100');
    expect(loadGatewayConfig({ DRYDOCK_REGISTRY_PROXY_URL: 'http://registry-proxy:5100/' }).registryProxyUrl).toBe('http://registry-proxy:5100');
    expect(() => loadGatewayConfig({ DRYDOCK_REGISTRY_PROXY_URL: '127.0.0.1:5100' })).toThrow(/DRYDOCK_REGISTRY_PROXY_URL/);
  });

  it('has no authorization plugins unless DRYDOCK_GATEWAY_AUTHZ_PLUGINS names them, in order', () => {
    expect(loadGatewayConfig({}).authz.plugins).toEqual([]);
    expect(loadGatewayConfig({ DRYDOCK_GATEWAY_AUTHZ_PLUGINS: 'opa, acme/authz:latest' }).authz).toMatchObject({ plugins: ['opa', 'acme/authz:latest'], timeoutMs: 10000, runDir: '/run/drydock/plugins' });
    expect(() => loadGatewayConfig({ DRYDOCK_GATEWAY_AUTHZ_PLUGINS: 'opa,,x' })).toThrow(/DRYDOCK_GATEWAY_AUTHZ_PLUGINS/);
    expect(() => loadGatewayConfig({ DRYDOCK_GATEWAY_AUTHZ_PLUGINS: 'bad name' })).toThrow(/DRYDOCK_GATEWAY_AUTHZ_PLUGINS/);
  });
});
