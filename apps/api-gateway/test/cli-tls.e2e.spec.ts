// TCP is opt-in and, like dockerd's --tlsverify, authenticates clients by certificate.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@drydock/infra';
import { makeTempDir } from '@drydock/testing';
import { useDockerStack } from './support/stack';
import { makeCerts } from './support/certs';

describe('docker CLI over TCP with TLS and client certificates', () => {
  const s = useDockerStack('e2etls');
  let port = 0;
  let certs = '';

  beforeAll(async () => {
    certs = join(await makeTempDir('tls'), 'certs');
    makeCerts(certs);
    port = await freePort();
    s.gatewayEnv = {
      DRYDOCK_GATEWAY_TCP: `127.0.0.1:${port}`,
      DRYDOCK_GATEWAY_TLS_CERT: join(certs, 'server-cert.pem'),
      DRYDOCK_GATEWAY_TLS_KEY: join(certs, 'server-key.pem'),
      DRYDOCK_GATEWAY_TLS_CA: join(certs, 'ca.pem'),
    };
    // the stack started with the unix socket only: restart the gateway with TCP+TLS
    await s.restartGateway();
  }, 60000);

  afterAll(() => rmSync(join(certs, '..'), { recursive: true, force: true }));

  it('serves a client with a certificate signed by the CA', async () => {
    const r = await s.docker(['--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}'], { env: { DOCKER_HOST: '' } });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: '1.41\n' });
  });

  it('refuses a client without a certificate', async () => {
    const r = await s.docker(['--tls', '--tlscacert', join(certs, 'ca.pem'), '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}'], { env: { DOCKER_HOST: '' } });
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toBe(''); // no server version: the handshake failed
    expect(r.stderr).toMatch(/certificate|tls|bad|remote error/i);
  });
});
