// docker-compose 1.29 (Debian's docker-compose, docker-py 5) against the gateway: a two-service app with a
// published port, a named volume, a custom network and depends_on, driven with the commands users type.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@drydock/infra';
import { useDockerStack } from './support/stack';
import { eventually, httpGet } from './support/expect';

const WEB = 'hello from web\n';

describe('docker-compose 1.29: a two-service app', () => {
  const s = useDockerStack('e2ecompose');
  let dir = '';
  let port = 0;
  const compose = (args: string, timeoutMs = 120000) => s.spawnCli([], { shell: `cd ${dir} && exec docker-compose -p e2eapp ${args}`, timeoutMs }).done;

  beforeAll(async () => {
    dir = s.dir('compose');
    port = await freePort();
    // web serves what app wrote into the shared volume; app finds web by its service name (embedded DNS)
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        "version: '3.7'",
        'services:',
        '  web:',
        '    image: busybox',
        '    command: ["sh", "-c", "mkdir -p /www && echo hello from web > /www/index.html && exec busybox httpd -f -p 80 -h /www"]',
        '    ports:',
        `      - "${port}:80"`,
        '    networks: [front]',
        '  app:',
        '    image: busybox',
        '    command: ["sh", "-c", "while true; do wget -qO- http://web/ > /data/seen 2>/dev/null; sleep 0.5; done"]',
        '    depends_on: [web]',
        '    volumes: ["appdata:/data"]',
        '    networks: [front]',
        'networks:',
        '  front: {}',
        'volumes:',
        '  appdata: {}',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await compose('down -v --remove-orphans').catch(() => undefined);
  });

  it('up -d creates the network, the volume and both containers, web first', async () => {
    const r = await compose('up -d');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Creating network "e2eapp_front" with the default driver/);
    expect(r.stderr).toMatch(/Creating volume "e2eapp_appdata" with default driver/);
    expect(r.stderr.indexOf('e2eapp_web_1')).toBeLessThan(r.stderr.indexOf('e2eapp_app_1'));
    expect((await s.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout).toMatch(/^e2eapp_front$/m);
  });

  it('publishes web on the host port and app reaches web by name', async () => {
    expect(await eventually(() => httpGet('127.0.0.1', port), (b) => b === WEB, 20000, 'web on the host port')).toBe(WEB);
    expect(await eventually(async () => (await compose('exec -T app cat /data/seen')).stdout, (b) => b === WEB, 20000, 'app reaching web')).toBe(WEB);
  });

  it('ps shows both services up with the port', async () => {
    const r = await compose('ps');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`e2eapp_web_1 .* Up .*0\\.0\\.0\\.0:${port}->80/tcp`));
    expect(r.stdout).toMatch(/e2eapp_app_1 .* Up/);
  });

  it('logs and exec work per service', async () => {
    const ex = await compose('exec -T web cat /www/index.html');
    expect(ex).toMatchObject({ code: 0, stdout: 'hello from web\n' });
    const logs = await compose('logs --no-color web');
    expect(logs.code).toBe(0);
  });

  it('up --scale app=2 adds a second app container on the network', async () => {
    const r = await compose('up -d --scale app=2');
    expect(r.code).toBe(0);
    const ps = await s.docker(['ps', '--filter', 'label=com.docker.compose.project=e2eapp', '--format', '{{.Names}}']);
    expect(ps.stdout.split('\n').filter(Boolean).sort()).toEqual(['e2eapp_app_1', 'e2eapp_app_2', 'e2eapp_web_1']);
    expect(await eventually(async () => (await compose('exec -T --index=2 app cat /data/seen')).stdout, (b) => b === WEB, 20000, 'app_2 reaching web')).toBe(WEB);
  });

  it('restart keeps the app working', async () => {
    const r = await compose('restart -t 1');
    expect(r.code).toBe(0);
    expect(await eventually(() => httpGet('127.0.0.1', port), (b) => b === WEB, 20000, 'web after the restart')).toBe(WEB);
  });

  it('down -v removes containers, the network and the volume', async () => {
    const r = await compose('down -v');
    expect(r.code).toBe(0);
    expect((await s.docker(['ps', '-aq', '--filter', 'label=com.docker.compose.project=e2eapp'])).stdout).toBe('');
    expect((await s.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout).not.toMatch(/e2eapp_front/);
    expect((await s.docker(['volume', 'ls', '-q'])).stdout).not.toMatch(/e2eapp_appdata/);
    expect(await httpGet('127.0.0.1', port)).toMatch(/^error: /);
  });
});
