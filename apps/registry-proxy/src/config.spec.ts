import { loadRegistryProxyConfig } from './config';

describe('loadRegistryProxyConfig', () => {
  it('listens on 127.0.0.1:5100 and stores under $DRYDOCK_STATE_DIR/registry by default', () => {
    expect(loadRegistryProxyConfig({ DRYDOCK_STATE_DIR: '/srv/dd' })).toMatchObject({ host: '127.0.0.1', port: 5100, storageDir: '/srv/dd/registry' });
    expect(loadRegistryProxyConfig({ DRYDOCK_REGISTRY_PROXY_LISTEN: '[::1]:6000', DRYDOCK_REGISTRY_PROXY_DIR: '/data' })).toMatchObject({ host: '::1', port: 6000, storageDir: '/data' });
  });

  it('reports every bad variable at once', () => {
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_PROXY_LISTEN: 'nope', DRYDOCK_REGISTRY_PROXY_DIR: 'relative' })).toThrow(
      /DRYDOCK_REGISTRY_PROXY_LISTEN[\s\S]*DRYDOCK_REGISTRY_PROXY_DIR/,
    );
  });
});
