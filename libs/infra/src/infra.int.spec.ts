import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { connect, StringCodec } from 'nats';
import Redis from 'ioredis';
import { buildBusyboxRootfsTar, ctr, makeTempDir, mountsUnder, startTestInfra, type TestInfra } from '@drydock/testing';
import { buildSync } from 'esbuild';
import { NatsServerProcess, RegistryProcess, unixSocketAnswers, waitFor } from '@drydock/infra';

const run = promisify(execFile);

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local infrastructure (real servers)', () => {
  let infra: TestInfra;

  beforeAll(async () => {
    infra = await startTestInfra({ containerd: true, nats: true, redis: true, name: 'infra' });
  });

  afterAll(async () => {
    await infra?.stop();
  });

  it('nats-server answers with JetStream: a KV bucket round-trips a value', async () => {
    const nc = await connect({ servers: infra.nats!.url });
    try {
      const kv = await nc.jetstream().views.kv('infra_test');
      await kv.put('k', StringCodec().encode('v1'));
      const e = await kv.get('k');
      expect(e && StringCodec().decode(e.value)).toBe('v1');
    } finally {
      await nc.close();
    }
  });

  it('redis-server answers PING', async () => {
    const redis = new Redis(infra.redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('containerd answers `ctr version` on its private socket', async () => {
    const out = await ctr(infra.containerd!.address, ['version']);
    expect(out).toMatch(/Server:\s*\n\s*Version:\s*\S+/);
  });

  it('containerd comes back after SIGKILL with a stale socket file left behind', async () => {
    const proc = infra.containerd!.process;
    const before = proc.pid;
    await proc.kill();
    expect(existsSync(infra.containerd!.address)).toBe(true);
    expect(await unixSocketAnswers(infra.containerd!.address)).toBe(false);
    await proc.start();
    expect(proc.pid).not.toBe(before);
    expect(await ctr(infra.containerd!.address, ['version'])).toContain('Server:');
  });

  it('runs the busybox rootfs as a container: applets, passwd and users resolve', async () => {
    const tar = await buildBusyboxRootfsTar(join(infra.dir, 'rootfs.tar'));
    expect(tar.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const rootfs = join(infra.dir, 'rootfs');
    mkdirSync(rootfs);
    await run('tar', ['-xf', tar.path, '-C', rootfs]);
    const { stdout } = await run('ctr', [
      '-a', infra.containerd!.address, '-n', 'drydock', 'run', '--rm', '--env', 'PATH=/bin:/usr/bin', '--rootfs', rootfs, 'bb-echo',
      'sh', '-c', 'echo hello; id -un; id -u app; cat /etc/hostname',
    ]);
    expect(stdout.split(/\r?\n/).filter(Boolean)).toEqual(['hello', 'root', '1000', 'drydock']);
  });
});

describe('startTestInfra().stop()', () => {
  it('kills running tasks and servers, unmounts and removes its directory', async () => {
    const infra = await startTestInfra({ containerd: true, nats: true, name: 'stop' });
    const tar = await buildBusyboxRootfsTar(join(infra.dir, 'rootfs.tar'));
    const rootfs = join(infra.dir, 'rootfs');
    mkdirSync(rootfs);
    await run('tar', ['-xf', tar.path, '-C', rootfs]);
    const address = infra.containerd!.address;
    await run('ctr', ['-a', address, '-n', 'drydock', 'run', '-d', '--null-io', '--rootfs', rootfs, 'bb-sleep', '/bin/sleep', '1000']);
    const taskPid = Number((await ctr(address, ['tasks', 'ls'], 'drydock')).match(/bb-sleep\s+(\d+)/)![1]);
    expect(alive(taskPid)).toBe(true);
    // A mount like a task's overlay rootfs, which rm -rf must never descend into.
    const mnt = join(infra.dir, 'ctd', 'mnt');
    mkdirSync(mnt);
    await run('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
    expect(mountsUnder(infra.dir)).toContain(mnt);
    const pids = [infra.containerd!.process.pid, infra.nats!.pid];

    await infra.stop();

    expect(alive(taskPid)).toBe(false);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(infra.dir);
    expect(existsSync(infra.dir)).toBe(false);
  });

  it('fails with the Debian package name when a binary is missing', async () => {
    const dir = await makeTempDir('missing');
    try {
      const nats = new NatsServerProcess({ dir, binary: 'nats-server-that-does-not-exist' });
      await expect(nats.start()).rejects.toThrow(/install the Debian package nats-server/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dieWithParent', () => {
  it('takes a server down with the process that started it, even on SIGKILL', async () => {
    const dir = await makeTempDir('orphan');
    try {
      // A separate node process owns the server, so the test can SIGKILL the owner.
      const script = buildSync({
        stdin: {
          contents: `import { RedisServerProcess } from '@drydock/infra';
            const r = new RedisServerProcess({ dir: ${JSON.stringify(dir)}, dieWithParent: true });
            r.start().then(() => console.log(r.pid), (e) => { console.error(e); process.exit(1); });
            setInterval(() => undefined, 1000);`,
          resolveDir: resolve(__dirname, '../../..'),
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        tsconfig: resolve(__dirname, '../../../tsconfig.json'),
        write: false,
        logLevel: 'error',
      }).outputFiles[0].text;
      writeFileSync(join(dir, 'owner.js'), script);
      const owner = spawn(process.execPath, [join(dir, 'owner.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
      const redisPid = Number(await new Promise<string>((r) => owner.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
      expect(alive(redisPid)).toBe(true);
      owner.kill('SIGKILL');
      await waitFor(() => !alive(redisPid), 5000, 'redis-server to die with its owner');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RegistryProcess', () => {
  it('serves the distribution API, with basic auth when users are given', async () => {
    const infra = await startTestInfra({ registry: { htpasswd: { users: { alice: 's3cret' } } }, name: 'reg' });
    try {
      const reg = infra.registry!;
      expect((await fetch(`${reg.url}/v2/`)).status).toBe(401);
      const ok = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } });
      expect(ok.status).toBe(200);
      const bad = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } });
      expect(bad.status).toBe(401);
    } finally {
      await infra.stop();
    }
    const dir = await makeTempDir('reg-open');
    const open = new RegistryProcess({ dir });
    try {
      await open.start();
      expect((await fetch(`${open.url}/v2/`)).status).toBe(200);
    } finally {
      await open.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
