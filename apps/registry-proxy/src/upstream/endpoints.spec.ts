import { EndpointResolver, hostnameOf } from './endpoints';

const lookups: Record<string, string[]> = { 'reg.lan': ['10.1.2.3'], 'public.example': ['93.184.216.34'], localhost: ['127.0.0.1'] };
const lookup = async (h: string) => {
  if (!lookups[h]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return lookups[h];
};

describe('EndpointResolver', () => {
  const r = new EndpointResolver({ mirrors: ['https://mirror.example', 'http://127.0.0.1:5001'], insecureRegistries: ['build.local:5000', '10.0.0.0/8', '127.0.0.0/8'] }, lookup);

  it('sends Docker Hub to the mirrors first, then registry-1.docker.io; never to mirrors for a push', async () => {
    expect(await r.endpoints('docker.io', 'pull')).toEqual([
      { origin: 'https://mirror.example', mirror: true, official: false, tlsVerify: true },
      { origin: 'http://127.0.0.1:5001', mirror: true, official: false, tlsVerify: true },
      { origin: 'https://registry-1.docker.io', mirror: false, official: true, tlsVerify: true },
    ]);
    expect(await r.endpoints('index.docker.io', 'push')).toEqual([{ origin: 'https://registry-1.docker.io', mirror: false, official: true, tlsVerify: true }]);
  });

  it('tries HTTPS without verification, then plain HTTP, for insecure registries (by name, CIDR or resolved name)', async () => {
    const insecure = (h: string) => [
      { origin: `https://${h}`, mirror: false, official: false, tlsVerify: false },
      { origin: `http://${h}`, mirror: false, official: false, tlsVerify: false },
    ];
    expect(await r.endpoints('127.0.0.1:5000', 'pull')).toEqual(insecure('127.0.0.1:5000'));
    expect(await r.endpoints('build.local:5000', 'pull')).toEqual(insecure('build.local:5000'));
    expect(await r.endpoints('reg.lan', 'push')).toEqual(insecure('reg.lan'));
    expect(await r.endpoints('localhost:5000', 'pull')).toEqual(insecure('localhost:5000'));
  });

  it('uses HTTPS only, verified, for anything else (unresolvable names too)', async () => {
    expect(await r.endpoints('public.example', 'pull')).toEqual([{ origin: 'https://public.example', mirror: false, official: false, tlsVerify: true }]);
    expect(await r.endpoints('build.local:5001', 'pull')).toEqual([{ origin: 'https://build.local:5001', mirror: false, official: false, tlsVerify: true }]);
    expect(await r.endpoints('[::1]:5000', 'pull')).toEqual([{ origin: 'https://[::1]:5000', mirror: false, official: false, tlsVerify: true }]);
  });

  it('splits host names from ports', () => {
    expect(hostnameOf('a.b:5000')).toBe('a.b');
    expect(hostnameOf('[::1]:5000')).toBe('::1');
    expect(hostnameOf('a.b')).toBe('a.b');
  });
});
