import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistryProxyConfig } from './config';

describe('loadRegistryProxyConfig', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'rp-config-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('listens on 127.0.0.1:5100 and stores under $DRYDOCK_STATE_DIR/registry by default', () => {
    expect(loadRegistryProxyConfig({ DRYDOCK_STATE_DIR: '/srv/dd' })).toMatchObject({ host: '127.0.0.1', port: 5100, storageDir: '/srv/dd/registry' });
    expect(loadRegistryProxyConfig({ DRYDOCK_REGISTRY_PROXY_LISTEN: '[::1]:6000', DRYDOCK_REGISTRY_PROXY_DIR: '/data' })).toMatchObject({ host: '::1', port: 6000, storageDir: '/data' });
  });

  it('reports every bad variable at once', () => {
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_PROXY_LISTEN: 'nope', DRYDOCK_REGISTRY_PROXY_DIR: 'relative' })).toThrow(
      /DRYDOCK_REGISTRY_PROXY_LISTEN[\s\S]*DRYDOCK_REGISTRY_PROXY_DIR/,
    );
  });

  it('caches under <storage>/cache with a 20 GiB limit and treats loopback as insecure, as dockerd does', () => {
    const c = loadRegistryProxyConfig({ DRYDOCK_REGISTRY_PROXY_DIR: '/data' });
    expect(c.cache).toEqual({ dir: '/data/cache', maxBytes: 20 * 1024 ** 3 });
    expect(c.upstream).toEqual({ mirrors: [], insecureRegistries: ['127.0.0.0/8'], timeoutMs: 30000, stallMs: 60000 });
  });

  it('takes mirrors and insecure registries from the environment and a daemon.json', () => {
    const path = join(dir, 'daemon.json');
    writeFileSync(path, JSON.stringify({ 'registry-mirrors': ['https://mirror.example:5000/'], 'insecure-registries': ['10.0.0.0/8', 'reg.local'], debug: true }));
    const c = loadRegistryProxyConfig({
      DRYDOCK_REGISTRY_MIRRORS: 'http://127.0.0.1:5001',
      DRYDOCK_INSECURE_REGISTRIES: 'build.local:5000, 192.168.1.0/24',
      DRYDOCK_REGISTRY_DAEMON_JSON: path,
      DRYDOCK_REGISTRY_CACHE_MAX_BYTES: '1048576',
    });
    expect(c.upstream.mirrors).toEqual(['http://127.0.0.1:5001', 'https://mirror.example:5000']);
    expect(c.upstream.insecureRegistries).toEqual(['build.local:5000', '192.168.1.0/24', '10.0.0.0/8', 'reg.local', '127.0.0.0/8']);
    expect(c.cache.maxBytes).toBe(1048576);
  });

  it('rejects a daemon.json that is not valid, and bad entries, with their variable names', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"registry-mirrors": ');
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_DAEMON_JSON: bad })).toThrow(/DRYDOCK_REGISTRY_DAEMON_JSON: cannot read daemon.json .*bad.json/);
    const wrongType = join(dir, 'wrong.json');
    writeFileSync(wrongType, JSON.stringify({ 'insecure-registries': 'reg.local' }));
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_DAEMON_JSON: wrongType })).toThrow(/"insecure-registries" must be an array of strings/);
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_DAEMON_JSON: join(dir, 'missing.json') })).toThrow(/cannot read daemon.json/);
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_MIRRORS: 'ftp://m.example', DRYDOCK_INSECURE_REGISTRIES: 'http://reg.local,10.0.0.0/33' })).toThrow(
      /unsupported scheme "ftp"[\s\S]*should not contain ':\/\/'[\s\S]*10.0.0.0\/33 is not a valid CIDR/,
    );
    expect(() => loadRegistryProxyConfig({ DRYDOCK_REGISTRY_MIRRORS: 'https://m.example/path' })).toThrow(/path, query/);
  });
});
